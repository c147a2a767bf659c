from tortoise import migrations
from tortoise.migrations import operations as ops
import functools
from json import dumps, loads
from models.outbox import OutboxStatus
from models.tickets import TicketSource, TicketStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    initial = True

    operations = [
        ops.CreateModel(
            name='Customer',
            fields=[
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('team_id', fields.CharField(unique=True, max_length=32)),
                ('name', fields.CharField(max_length=120)),
                ('plan', fields.CharField(default='standard', max_length=40)),
                ('language', fields.CharField(null=True, max_length=8)),
            ],
            options={'table': 'customers', 'app': 'models', 'pk_attr': 'id', 'table_description': 'A customer organisation (a Slack team on the other side of a shared channel).'},
            bases=['TimestampedModel'],
        ),
        ops.CreateModel(
            name='InboundEvent',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('event_id', fields.CharField(unique=True, max_length=64)),
                ('kind', fields.CharField(max_length=60)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('processed_at', fields.DatetimeField(null=True, db_index=True, auto_now=False, auto_now_add=False)),
                ('attempts', fields.IntField(default=0)),
                ('error', fields.CharField(null=True, max_length=300)),
            ],
            options={'table': 'inbound_events', 'app': 'models', 'pk_attr': 'id', 'table_description': 'An Events API delivery, recorded before it is acknowledged.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='OutboxMessage',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('stream', fields.CharField(db_index=True, max_length=64)),
                ('method', fields.CharField(max_length=40)),
                ('channel_id', fields.CharField(max_length=32)),
                ('payload', fields.JSONField(encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('thread_parent_id', fields.BigIntField(null=True)),
                ('target_id', fields.BigIntField(null=True)),
                ('on_delivered', fields.JSONField(null=True, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
                ('uncertain', fields.BooleanField(default=False)),
                ('status', fields.CharEnumField(default=OutboxStatus.PENDING, description='PENDING: pending\nDELIVERED: delivered\nFAILED: failed', enum_type=OutboxStatus, max_length=12)),
                ('attempts', fields.IntField(default=0)),
                ('next_attempt_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('lease_until', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('last_error', fields.CharField(null=True, max_length=300)),
                ('result_ts', fields.CharField(null=True, max_length=32)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('delivered_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'outbox', 'app': 'models', 'indexes': [Index(fields=['status', 'next_attempt_at'])], 'pk_attr': 'id', 'table_description': 'One Web API call to make, in order within its stream, exactly once.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='Ticket',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('created_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('updated_at', fields.DatetimeField(auto_now=True, auto_now_add=False)),
                ('customer', fields.ForeignKeyField('models.Customer', source_field='customer_id', db_constraint=True, to_field='id', related_name='tickets', on_delete=OnDelete.RESTRICT)),
                ('channel_id', fields.CharField(max_length=32)),
                ('source_ts', fields.CharField(max_length=32)),
                ('thread_ts', fields.CharField(null=True, max_length=32)),
                ('author_id', fields.CharField(max_length=32)),
                ('author_team_id', fields.CharField(null=True, max_length=32)),
                ('opened_by_id', fields.CharField(max_length=32)),
                ('source', fields.CharEnumField(default=TicketSource.MESSAGE, description='MESSAGE: message\nREACTION: reaction\nSHORTCUT: shortcut\nCOMMAND: command', enum_type=TicketSource, max_length=16)),
                ('text', fields.TextField(unique=False)),
                ('permalink', fields.CharField(null=True, max_length=500)),
                ('priority', fields.CharField(default='P3', max_length=2)),
                ('priority_reason', fields.CharField(null=True, max_length=200)),
                ('status', fields.CharEnumField(default=TicketStatus.NEW, db_index=True, description='NEW: new\nOPEN: open\nWAITING: waiting\nRESOLVED: resolved\nCLOSED: closed', enum_type=TicketStatus, max_length=16)),
                ('level', fields.CharField(default='L1', db_index=True, max_length=2)),
                ('component', fields.CharField(null=True, max_length=60)),
                ('assignee_id', fields.CharField(null=True, max_length=32)),
                ('source_deleted', fields.BooleanField(default=False)),
                ('last_customer_message_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'tickets', 'app': 'models', 'unique_together': (('channel_id', 'source_ts'),), 'indexes': [Index(fields=['channel_id', 'author_id', 'status']), Index(fields=['channel_id', 'thread_ts'])], 'pk_attr': 'id', 'table_description': 'A support request, keyed PREFIX-id (e.g. SUP-42).'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TicketCard',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='cards', on_delete=OnDelete.CASCADE)),
                ('level', fields.CharField(max_length=2)),
                ('channel_id', fields.CharField(max_length=32)),
                ('outbox_id', fields.IntField()),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
            ],
            options={'table': 'ticket_cards', 'app': 'models', 'pk_attr': 'id', 'table_description': 'The ticket card in an internal level channel, posted by the outbox message outbox_id.'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TicketMessage',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='messages', on_delete=OnDelete.CASCADE)),
                ('channel_id', fields.CharField(max_length=32)),
                ('ts', fields.CharField(max_length=32)),
                ('author_id', fields.CharField(max_length=32)),
                ('author_kind', fields.CharField(max_length=16)),
                ('text', fields.TextField(unique=False)),
                ('edited', fields.BooleanField(default=False)),
                ('deleted', fields.BooleanField(default=False)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'ticket_messages', 'app': 'models', 'unique_together': (('channel_id', 'ts'),), 'pk_attr': 'id', 'table_description': "A message in a ticket's customer thread (customer or agent), mirrored to the internal card."},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='TimelineEntry',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('ticket', fields.ForeignKeyField('models.Ticket', source_field='ticket_id', db_constraint=True, to_field='id', related_name='timeline', on_delete=OnDelete.CASCADE)),
                ('at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('actor_id', fields.CharField(max_length=32)),
                ('kind', fields.CharField(max_length=40)),
                ('data', fields.JSONField(default=dict, encoder=functools.partial(dumps, separators=(',', ':')), decoder=loads)),
            ],
            options={'table': 'ticket_timeline', 'app': 'models', 'pk_attr': 'id', 'table_description': 'Append-only record of every state change of a ticket: who, when, what.'},
            bases=['Model'],
        ),
    ]
