"""Text analysis for KB retrieval: chat-noise cleanup, tokenising, language guess, stemming, synonyms.

Everything here is a pure function of its input (plus immutable module tables), so an index built from
the same articles on any replica produces the same terms.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

import snowballstemmer

__all__ = [
    "ANALYZED_LANGUAGES",
    "STOPWORDS",
    "SYNONYMS",
    "CROSS_LANGUAGE",
    "RELATED",
    "RELATED_GROUPS",
    "Token",
    "analyze",
    "clean_chat_noise",
    "detect_language",
    "fold_diacritics",
    "guess_language",
    "is_noise",
    "iter_bigrams",
    "normalize",
    "stem",
    "tokenize",
]

#: Languages with a dedicated stemmer and stop-word list; anything else is analysed as English.
ANALYZED_LANGUAGES: tuple[str, ...] = ("en", "de")

_SNOWBALL_NAMES = {"en": "english", "de": "german"}

# --------------------------------------------------------------------------------------------------
# Stop words (Snowball lists, apostrophes removed because the tokeniser drops them: "don't" -> "dont").
# --------------------------------------------------------------------------------------------------

_EN_STOP = """
i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her hers
herself it its itself they them their theirs themselves what which who whom this that these those am is are
was were be been being have has had having do does did doing would should could ought im youre hes shes its
were theyre ive youve weve theyve id youd hed shed wed theyd ill youll hell shell well theyll isnt arent
wasnt werent hasnt havent hadnt doesnt dont didnt wont wouldnt shant shouldnt cant cannot couldnt mustnt lets
thats whos whats heres theres whens wheres whys hows a an the and but if or because as until while of at by
for with about against between into through during before after above below to from up down in out on off
over under again further then once here there when where why how all any both each few more most other some
such no nor not only own same so than too very can will just also may might must shall s t d ll m re ve
"""

_DE_STOP = """
aber alle allem allen aller alles als also am an ander andere anderem anderen anderer anderes anderm andern
anders auch auf aus bei bin bis bist da damit dann der den des dem die das dass daß du dies diese diesem
diesen dieser dieses dich dir dort doch dein deine deinem deinen deiner deines denn derer dessen durch ein
eine einem einen einer eines einig einige einigem einigen einiger einiges einmal er ihn ihm es etwas euer
eure eurem euren eurer eures für gegen gewesen hab habe haben hat hatte hatten hier hin hinter ich mich mir
ihr ihre ihrem ihren ihrer ihres euch im in indem ins ist jede jedem jeden jeder jedes jene jenem jenen jener
jenes jetzt kann kein keine keinem keinen keiner keines können könnte machen man manche manchem manchen
mancher manches mein meine meinem meinen meiner meines mit muss musste nach nicht nichts noch nun nur ob oder
ohne sehr sein seine seinem seinen seiner seines selbst sich sie ihnen sind so solche solchem solchen solcher
solches soll sollte sondern sonst über um und uns unsere unserem unseren unser unseres unter viel vom von vor
während war waren warst was weg weil weiter welche welchem welchen welcher welches wenn werde werden wie
wieder will wir wird wirst wo wollen wollte würde würden zu zum zur zwar zwischen wieso warum weshalb geht
gibt bzw usw ca mal schon immer gerade leider
"""

#: Chat filler that carries no information about the problem (dropped from queries only, both languages).
_QUERY_NOISE = """
hi hello hey hiya heya yo dear hallo moin servus tach morning evening afternoon team folks guys everyone
all thanks thank thx thanx ty tia cheers regards please pls plz pleeease kindly urgent urgently asap
quick quickly help helping anyone somebody someone idea ideas advice appreciated appreciate
danke dankeschön vielen bitte dringend eilig grüße gruß gruss grüßen lg mfg vg hilfe helfen
"""


def _words(block: str) -> frozenset[str]:
    return frozenset(unicodedata.normalize("NFKC", block).casefold().split())


#: Stop words per analysed language (casefolded, so "ß" appears as "ss").
STOPWORDS: dict[str, frozenset[str]] = {"en": _words(_EN_STOP), "de": _words(_DE_STOP)}
_QUERY_NOISE_WORDS = _words(_QUERY_NOISE)

# Words that are good evidence for a language: the stop lists plus chat words, minus words that are
# common in both languages ("die", "was", "will", "also", "in", "so", "man", "hat", "an", "am", ...).
_AMBIGUOUS = _words("die was will also in so man hat an am um bin war hin da du er es of ob wo the mit")
_LANG_HINTS: dict[str, frozenset[str]] = {
    "en": (STOPWORDS["en"] | _words("please thanks hello hi way get set working works every")) - _AMBIGUOUS,
    "de": (STOPWORDS["de"] | _words("bitte danke hallo geht funktioniert leider beim seit jetzt immer mehr"))
    - _AMBIGUOUS,
}

# --------------------------------------------------------------------------------------------------
# Synonym folding: surface word (casefolded, apostrophes removed) -> canonical surface word. Applied
# identically to articles and queries *before* stemming, so it never changes scores between replicas.
# Kept deliberately small and generic (IT-support vocabulary and chat abbreviations).
# --------------------------------------------------------------------------------------------------

SYNONYMS: dict[str, str] = {
    # e-mail ("e-mail" and "e mail" are joined by the tokeniser / query concatenation first)
    "emailing": "email",
    # passwords (English + German spellings)
    "passwort": "password",
    "passwörter": "password",
    "kennwort": "password",
    "kennwörter": "password",
    "passwd": "password",
    "pwd": "password",
    "pw": "password",
    # log in / sign in
    "logon": "login",
    "signin": "login",
    "log-in": "login",
    "anmelden": "login",
    "anmeldung": "login",
    "einloggen": "login",
    # common chat abbreviations
    "acc": "account",
    "acct": "account",
    "msg": "message",
    "msgs": "message",
    "pic": "picture",
    "pics": "picture",
    "img": "image",
    "pwds": "password",
    "config": "configuration",
    "cfg": "configuration",
    "pref": "preference",
    "prefs": "preference",
    "info": "information",
    "repo": "repository",
    "repos": "repository",
    "app": "application",
    "apps": "application",
    "fb": "facebook",
    "yt": "youtube",
    "vid": "video",
    "vids": "video",
    "doc": "document",
    "docs": "document",
    "spreadsheets": "spreadsheet",
    "pc": "computer",
    "laptop": "computer",
    "rechner": "computer",
    "wlan": "wifi",
    "wi-fi": "wifi",
}

#: Related words: a query word also matches the others of its group, at a discount (RankingParams.related_weight).
#: Generic help-desk vocabulary, English and German; folded to stems at query time.
RELATED_GROUPS: tuple[tuple[str, ...], ...] = (
    ("delete", "remove", "erase", "wipe", "purge", "löschen", "entfernen"),
    ("download", "save", "export"),
    ("backup", "export", "archive", "sicherung", "sichern"),
    ("show", "display", "view", "see", "anzeigen"),
    ("find", "search", "locate", "look", "suchen", "finden"),
    ("folder", "directory", "ordner", "verzeichnis"),
    ("disable", "stop", "deactivate", "block", "deaktivieren", "abschalten"),
    ("enable", "activate", "aktivieren", "einschalten"),
    ("create", "make", "add", "new", "erstellen", "anlegen"),
    ("mail", "email"),
    ("picture", "image", "photo", "bild", "foto"),
    ("user", "person", "people", "benutzer", "nutzer"),
    ("oldest", "first", "earliest"),
    ("newest", "latest", "recent"),
    ("problem", "issue", "error", "fehler", "störung"),
    ("crash", "freeze", "hang", "absturz", "abstürzen", "hängt"),
    ("reset", "restore", "recover", "retrieve", "undo", "zurücksetzen", "wiederherstellen"),
    ("share", "send", "forward", "teilen", "senden", "weiterleiten"),
    ("sync", "synchronize", "synchronise", "synchronisieren"),
    ("install", "setup", "installieren", "einrichten"),
    ("update", "upgrade", "aktualisieren"),
    ("phone", "mobile", "smartphone", "cellphone", "handy"),
    ("notification", "alert", "benachrichtigung"),
    ("calendar", "schedule", "kalender"),
    ("meeting", "appointment", "termin", "besprechung"),
    ("copy", "duplicate", "kopieren"),
    ("hide", "private", "conceal", "verbergen", "ausblenden"),
    ("permission", "access", "berechtigung", "zugriff"),
    ("print", "printer", "drucken", "drucker"),
    ("computer", "machine", "device", "gerät"),
    ("slow", "lag", "sluggish", "langsam"),
    ("forgot", "forgotten", "lost", "vergessen", "verloren"),
)

#: German IT words -> English equivalent, added as an alternative (not a replacement) when a German query
#: is matched against English articles (and vice versa), so "Drucker" can find "printer".
CROSS_LANGUAGE: dict[str, str] = {
    "drucker": "printer",
    "drucken": "print",
    "druckt": "print",
    "konto": "account",
    "benutzerkonto": "account",
    "löschen": "delete",
    "zurücksetzen": "reset",
    "vergessen": "forgot",
    "bildschirm": "screen",
    "netzwerk": "network",
    "verbindung": "connection",
    "postfach": "inbox",
    "anhang": "attachment",
    "ordner": "folder",
    "datei": "file",
    "dateien": "file",
    "freigeben": "share",
    "freigabe": "share",
    "berechtigung": "permission",
    "zugriff": "access",
    "fehler": "error",
    "lizenz": "license",
    "tastatur": "keyboard",
    "maus": "mouse",
    "benutzer": "user",
    "kalender": "calendar",
    "besprechung": "meeting",
    "sicherung": "backup",
    "herunterladen": "download",
    "hochladen": "upload",
    "aktualisieren": "update",
    "installieren": "install",
    "gesperrt": "locked",
    "entsperren": "unlock",
}


def _related_index(groups: tuple[tuple[str, ...], ...]) -> dict[str, tuple[str, ...]]:
    out: dict[str, set[str]] = {}
    for group in groups:
        words = [unicodedata.normalize("NFKC", w).casefold() for w in group]
        for w in words:
            out.setdefault(w, set()).update(x for x in words if x != w)
    return {w: tuple(sorted(others)) for w, others in out.items()}


#: word -> the other words of its related groups (sorted, deterministic).
RELATED: dict[str, tuple[str, ...]] = _related_index(RELATED_GROUPS)

# --------------------------------------------------------------------------------------------------
# Normalisation and chat-noise cleanup
# --------------------------------------------------------------------------------------------------

_COMBINING = re.compile(r"[\u0300-\u036f]")


def normalize(text: str) -> str:
    """Unicode-normalise (NFKC) and casefold a string ("ß" becomes "ss")."""
    return unicodedata.normalize("NFKC", text).casefold()


def fold_diacritics(word: str) -> str:
    """Strip combining accents ("café" -> "cafe", "müller" -> "muller")."""
    if word.isascii():
        return word
    return _COMBINING.sub("", unicodedata.normalize("NFD", word))


_MAX_CLEAN_CHARS = 8000
_REPEATS = re.compile(r"(\W)\1{3,}")
_CODE_FENCE = re.compile(r"```(?:[a-zA-Z0-9_+-]*\n)?(.*?)(?:```|$)", re.S)
_SLACK_USER = re.compile(r"<[@!][^>\s]{0,80}>")  # <@U123>, <@U123|bob>, <!here>, <!subteam^S1|x>
_SLACK_CHANNEL = re.compile(r"<#[A-Z0-9]+\|([^>]{0,80})>")
_SLACK_LINK_LABEL = re.compile(r"<(?:https?|mailto|tel):[^>|\s]{0,2000}\|([^>]{0,300})>")
_SLACK_LINK = re.compile(r"<((?:https?|mailto|tel):[^>\s]{0,2000})>")
_BARE_URL = re.compile(r"\b(?:https?://|www\.)\S+", re.I)
_EMOJI_CODE = re.compile(r":[a-z0-9_+\-']{1,40}:", re.I)
_SIGNOFF_PHRASES = (
    r"thanks?(?: you)?|thx|cheers|best|regards|best regards|kind regards|many thanks|br|kr|"
    r"thanks in advance|sent from my \w+|mit freundlichen gr(?:ü|ue|u)(?:ß|ss)en|mfg|lg|vg|"
    r"(?:viele|liebe|beste|freundliche) gr(?:ü|ue|u)(?:ß|ss)e|gru(?:ß|ss)|danke(?: schön| dir| euch)?|"
    r"vielen dank(?: im voraus)?"
)
# A line that is only a sign-off, optionally followed by up to three Capitalised name words; it and
# everything after it (signature) is dropped. Case-sensitive names keep "lg monitor broken" intact.
_SIGNOFF = re.compile(
    rf"^[ \t]*(?i:{_SIGNOFF_PHRASES})[ \t,.!]*(?:[A-ZÄÖÜ][\w.-]*[ \t,]*){{0,3}}$[\s\S]*",
    re.M,
)
_GREETING = re.compile(
    r"^\s*(?:hi|hello|hey|hiya|dear|hallo|moin|servus|good (?:morning|afternoon|evening)|"
    r"guten (?:morgen|tag|abend))\b"
    r"(?:\s+(?:team|all|everyone|everybody|folks|guys|there|y'?all|zusammen|leute|allerseits|support|it))*"
    r"(?:\s+@?[A-Z][\w.-]{0,30}(?=\s*[,!:]))?"
    r"\s*[,.!:;\n-]*",
    re.I,
)
_TRAILING_THANKS = re.compile(
    r"[\s,.!;-]*\b(?i:thanks?(?: you)?|thx|ty|cheers|regards|danke(?: dir| euch| schön)?|gruß|gruss)\b"
    r"(?:[\s,.!-]+[A-ZÄÖÜ][\w.-]{0,30}){0,2}[\s.!]*$",
)
_NOISE_PHRASES = re.compile(
    r"\b(?:please help(?: me)?|pls help|plz help|can (?:you|anyone|somebody|someone) help(?: me)?|"
    r"need (?:your |some )?help|any help(?: is)?(?: much| greatly)? appreciated|help needed|"
    r"thanks in advance|thank you in advance|kann mir (?:jemand|wer) helfen|bitte um hilfe|"
    r"danke im voraus|vielen dank im voraus)\b",
    re.I,
)


def clean_chat_noise(text: str) -> str:
    """Remove Slack markup, code fences, emoji, greetings, sign-offs and filler from a chat message."""
    if not text:
        return ""
    text = _REPEATS.sub(r"\1\1\1", text[:_MAX_CLEAN_CHARS])  # "!!!!!!!!" -> "!!!", keeps regexes linear
    # Keep the first lines of code blocks (an error message is valuable), drop the fences.
    text = _CODE_FENCE.sub(lambda m: " " + " ".join(m.group(1).splitlines()[:5])[:400] + "\n", text)
    text = text.replace("`", " ")
    text = _SLACK_CHANNEL.sub(r" \1 ", text)
    text = _SLACK_LINK_LABEL.sub(r" \1 ", text)
    text = _SLACK_LINK.sub(" ", text)
    text = _SLACK_USER.sub(" ", text)
    text = _BARE_URL.sub(" ", text)
    text = _EMOJI_CODE.sub(" ", text)
    text = _GREETING.sub("", text, count=1)
    head, _, rest = text.partition("\n")
    if rest:
        # A sign-off only counts after the first line; the rest of the message is signature.
        rest = _SIGNOFF.sub("", rest)
        text = head + "\n" + rest
    text = text.rstrip()
    text = text[:-160] + _TRAILING_THANKS.sub("", text[-160:])
    text = _NOISE_PHRASES.sub(" ", text)
    # Drop pictographs and other symbols (emoji, "!!!" stays punctuation and is ignored by the tokeniser).
    text = "".join(" " if unicodedata.category(ch) in ("So", "Sk", "Cs", "Co") else ch for ch in text)
    return text.strip()


def detect_language(text: str) -> str | None:
    """Return "en" or "de" when stop words (umlauts and ß count for German) say so, None when undecided."""
    sample = text[:4000]
    words = _WORD.findall(normalize(sample))
    en = sum(1 for w in words if w in _LANG_HINTS["en"])
    de = sum(1 for w in words if w in _LANG_HINTS["de"]) + min(3, sum(sample.count(ch) for ch in "äöüÄÖÜß"))
    if de > en:
        return "de"
    if en > de:
        return "en"
    return None


def guess_language(text: str, default: str = "en") -> str:
    """Like detect_language, but falls back to default (or "en") when undecided."""
    found = detect_language(text)
    if found is not None:
        return found
    return default if default in ANALYZED_LANGUAGES else "en"


# --------------------------------------------------------------------------------------------------
# Tokenising and stemming
# --------------------------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+(?:['’\-][^\W_]+)*")
_APOSTROPHE = re.compile(r"['’]")
_MAX_WORD = 40


@dataclass(frozen=True, slots=True)
class Token:
    """One surface word; ``joined`` marks the extra joined form of a hyphenated word (not for bigrams)."""

    text: str
    joined: bool = False


def tokenize(text: str) -> list[Token]:
    """Split normalised text into word tokens; "e-mail" gives "mail" and the joined extra "email"."""
    return [Token(w, j) for w, j in _split_words(text)]


def _split_words(text: str) -> list[tuple[str, bool]]:
    """Fast path of tokenize: (word, joined_extra) pairs."""
    out: list[tuple[str, bool]] = []
    append = out.append
    for raw in _WORD.findall(normalize(text)):
        if "'" in raw or "’" in raw:
            if raw.endswith(("'s", "’s")):
                raw = raw[:-2]
            raw = _APOSTROPHE.sub("", raw)
        if "-" in raw:
            parts = [p for p in raw.split("-") if p]
            joined = "".join(parts)
            if joined in SYNONYMS or "-".join(parts) in SYNONYMS:
                append((joined, False))
                continue
            out.extend((p, False) for p in parts if _keep(p))
            if len(joined) <= _MAX_WORD:
                append((joined, True))
        elif 1 < len(raw) <= _MAX_WORD or raw.isdigit():
            append((raw, False))
    return out


def _keep(word: str) -> bool:
    """Drop single letters ("e" of "e-mail", "c/p") and absurdly long runs (base64, hashes)."""
    return len(word) <= _MAX_WORD and (len(word) > 1 or word.isdigit())


_local = threading.local()
_STEM_CACHE: dict[str, dict[str, str]] = {lang: {} for lang in _SNOWBALL_NAMES}
_STEM_CACHE_MAX = 200_000  # per language; beyond it words are stemmed without caching


def _stemmer(language: str) -> snowballstemmer.Stemmer:
    cache: dict[str, snowballstemmer.Stemmer] | None = getattr(_local, "stemmers", None)
    if cache is None:
        cache = {}
        _local.stemmers = cache
    st = cache.get(language)
    if st is None:
        st = snowballstemmer.stemmer(_SNOWBALL_NAMES.get(language, "english"))
        cache[language] = st
    return st


def stem(word: str, language: str = "en") -> str:
    """Snowball-stem one casefolded word (English or German) and fold any remaining accents."""
    lang = language if language in _SNOWBALL_NAMES else "en"
    cache = _STEM_CACHE[lang]
    hit = cache.get(word)
    if hit is not None:
        return hit
    if word.isdigit() or len(word) <= 2:
        out = word
    else:
        out = fold_diacritics(_stemmer(lang).stemWord(word))
    if len(cache) < _STEM_CACHE_MAX:
        cache[word] = out
    return out


def analyze(
    text: str, language: str = "en", *, query: bool = False, synonyms: bool = True
) -> list[tuple[str, bool]]:
    """Return (stem, is_joined_extra) for the content words of text (stop words removed, synonyms folded)."""
    lang = language if language in ANALYZED_LANGUAGES else "en"
    stop = STOPWORDS[lang]
    noise = _QUERY_NOISE_WORDS if query else frozenset()
    cache = _STEM_CACHE[lang]
    syn = SYNONYMS if synonyms else {}
    out: list[tuple[str, bool]] = []
    append = out.append
    for word, joined in _split_words(text):
        if word in stop or word in noise:
            continue
        word = syn.get(word, word)
        stemmed = cache.get(word)
        append((stemmed if stemmed is not None else stem(word, lang), joined))
    return out


def is_noise(word: str, language: str = "en") -> bool:
    """True when a casefolded word is a stop word or chat filler for the given language."""
    lang = language if language in ANALYZED_LANGUAGES else "en"
    return word in STOPWORDS[lang] or word in _QUERY_NOISE_WORDS


def iter_bigrams(stems: Iterable[tuple[str, bool]]) -> list[str]:
    """Adjacent pairs of content stems ("a b") ignoring joined extras."""
    seq = [s for s, extra in stems if not extra]
    return [f"{a} {b}" for a, b in zip(seq, seq[1:], strict=False) if a != b]
