/* The sandbox page: a small Slack-like client for the local stand-in. No framework, no build step.
 *
 * Safety rule: text from people and from the app is never inserted as HTML. DOM nodes get textContent;
 * the only innerHTML is the output of mrkdwn(), which escapes the whole input first and then adds a
 * fixed set of tags (b, i, s, code, pre, blockquote, a with http/https/mailto, span).
 */
"use strict";
(() => {
  // ------------------------------------------------------------------ DOM helper

  function h(tag, props, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(props || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "html") node.innerHTML = value; // only ever mrkdwn() output
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (key === "dataset") Object.assign(node.dataset, value);
      else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    }
    for (const child of children.flat()) {
      if (child === undefined || child === null || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const $ = (id) => document.getElementById(id);

  // ------------------------------------------------------------------ emoji

  const EMOJI = {
    ticket: "🎫", "+1": "👍", thumbsup: "👍", "-1": "👎", eyes: "👀", white_check_mark: "✅",
    heavy_check_mark: "✔️", warning: "⚠️", rotating_light: "🚨", fire: "🔥", tada: "🎉", hourglass: "⌛",
    hourglass_flowing_sand: "⏳", red_circle: "🔴", large_orange_circle: "🟠", large_blue_circle: "🔵",
    large_green_circle: "🟢", white_circle: "⚪", speech_balloon: "💬", pencil2: "✏️", wastebasket: "🗑️",
    x: "❌", sos: "🆘", bell: "🔔", lock: "🔒", unlock: "🔓", new: "🆕", hammer_and_wrench: "🛠️",
    raised_hands: "🙌", pray: "🙏", wave: "👋", memo: "📝", bulb: "💡", books: "📚", book: "📖", mag: "🔍",
    alarm_clock: "⏰", stopwatch: "⏱️", arrow_up: "⬆️", arrow_down: "⬇️", arrow_right: "➡️",
    arrow_left: "⬅️", heart: "❤️", smile: "😄", slightly_smiling_face: "🙂", thinking_face: "🤔",
    point_right: "👉", link: "🔗", paperclip: "📎", inbox_tray: "📥", outbox_tray: "📤", robot_face: "🤖",
    busts_in_silhouette: "👥", bust_in_silhouette: "👤", calendar: "📆", clock3: "🕒", gear: "⚙️",
    information_source: "ℹ️", question: "❓", exclamation: "❗", no_entry: "⛔", construction: "🚧",
    rocket: "🚀", chart_with_upwards_trend: "📈", label: "🏷️", pushpin: "📌", star: "⭐", zap: "⚡",
  };
  const REACTION_CHOICES = ["ticket", "+1", "eyes", "white_check_mark", "pray", "tada"];

  function emojiChar(name) {
    return EMOJI[name] || null;
  }

  function emojify(text) {
    return String(text).replace(/:([a-z0-9_+'-]+):/g, (whole, name) => emojiChar(name) || whole);
  }

  // ------------------------------------------------------------------ escaping and mrkdwn

  function escapeHtml(text) {
    return String(text)
      .replace(/&/g, "&amp;")
      .replace(/</g, "&lt;")
      .replace(/>/g, "&gt;")
      .replace(/"/g, "&quot;")
      .replace(/'/g, "&#39;");
  }

  // Slack encodes exactly three characters in message text.
  function decodeEntities(text) {
    return String(text).replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
  }

  const PERMALINK = /^https:\/\/[a-z0-9-]+\.slack\.com\/archives\/([A-Z0-9]+)\/p(\d{10})(\d{6})(?:\?thread_ts=(\d+\.\d+))?/;
  const SAFE_URL = /^(https?:|mailto:)/i;

  function userName(id, ctx) {
    const user = ctx.users && ctx.users[id];
    return user ? user.real_name : id;
  }

  function channelName(id, ctx) {
    const chan = (ctx.channels || []).find((c) => c.id === id);
    return chan ? chan.name : id;
  }

  function linkHtml(url, label) {
    const safeLabel = escapeHtml(label || url);
    if (!SAFE_URL.test(url)) return safeLabel;
    const perma = url.match(PERMALINK);
    const data = perma
      ? ` data-goto-channel="${escapeHtml(perma[1])}" data-goto-ts="${perma[2]}.${perma[3]}"` +
        (perma[4] ? ` data-goto-thread="${escapeHtml(perma[4])}"` : "")
      : "";
    return `<a href="${escapeHtml(url)}" target="_blank" rel="noopener noreferrer"${data}>${safeLabel}</a>`;
  }

  function controlSequence(inner, ctx) {
    const bar = inner.indexOf("|");
    const target = bar >= 0 ? inner.slice(0, bar) : inner;
    const label = bar >= 0 ? decodeEntities(inner.slice(bar + 1)) : "";
    if (target.startsWith("@")) {
      const id = target.slice(1);
      const me = ctx.me && ctx.me === id ? " mention-me" : "";
      return `<span class="mention${me}" data-user="${escapeHtml(id)}">@${escapeHtml(userName(id, ctx) || label)}</span>`;
    }
    if (target.startsWith("#")) {
      const id = target.slice(1);
      const name = label || channelName(id, ctx);
      return `<span class="mention channel-mention" data-channel="${escapeHtml(id)}">#${escapeHtml(name)}</span>`;
    }
    if (target.startsWith("!")) {
      const command = target.slice(1);
      if (command.startsWith("subteam^")) {
        const id = command.split("^")[1] || "";
        const handle = label ? label.replace(/^@/, "") : (ctx.groups && ctx.groups[id]) || "group";
        return `<span class="mention mention-group">@${escapeHtml(handle)}</span>`;
      }
      if (command.startsWith("date^")) {
        const parts = command.split("^");
        return escapeHtml(formatDate(parts[1], parts[2] || "", label));
      }
      if (["here", "channel", "everyone"].includes(command)) {
        return `<span class="mention mention-group">@${command}</span>`;
      }
      return escapeHtml(label);
    }
    return linkHtml(decodeEntities(target), label);
  }

  function inlineFormat(html) {
    return html
      .replace(/(^|[^\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])/g, "$1<b>$2</b>")
      .replace(/(^|[^\w_])_(?=\S)([^_\n]*?\S)_(?![\w_])/g, "$1<i>$2</i>")
      .replace(/(^|[^\w~])~(?=\S)([^~\n]*?\S)~(?![\w~])/g, "$1<s>$2</s>")
      .replace(/:([a-z0-9_+'-]+):/g, (whole, name) => emojiChar(name) || whole);
  }

  /** Render Slack mrkdwn to safe HTML: escape everything first, then add a fixed set of tags. */
  function mrkdwn(text, ctx) {
    ctx = ctx || {};
    // \u0001 and \u0002 delimit placeholders below; nobody's text may contain them.
    let rest = String(text || "").replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, "");
    const slots = [];
    const slot = (html) => `\u0001${slots.push(html) - 1}\u0002`;
    rest = rest.replace(/```([\s\S]*?)```/g, (_, code) =>
      slot(`<pre class="mk-pre">${escapeHtml(decodeEntities(code.replace(/^\n/, "")))}</pre>`),
    );
    rest = rest.replace(/`([^`\n]+)`/g, (_, code) => slot(`<code class="mk-code">${escapeHtml(decodeEntities(code))}</code>`));
    rest = rest.replace(/<([^<>\n]+)>/g, (_, inner) => slot(controlSequence(inner, ctx)));
    const lines = escapeHtml(decodeEntities(rest)).split("\n");
    const out = [];
    let quote = null;
    for (const line of lines) {
      const match = line.match(/^&gt; ?(.*)$/);
      if (match) {
        (quote = quote || []).push(inlineFormat(match[1]));
        continue;
      }
      if (quote) {
        out.push({ block: `<blockquote class="mk-quote">${quote.join("<br>")}</blockquote>` });
        quote = null;
      }
      out.push({ line: inlineFormat(line) });
    }
    if (quote) out.push({ block: `<blockquote class="mk-quote">${quote.join("<br>")}</blockquote>` });
    let html = "";
    out.forEach((part, i) => {
      if (part.block) html += part.block;
      else html += part.line + (i < out.length - 1 && !out[i + 1].block ? "<br>" : "");
    });
    return html.replace(/\u0001(\d+)\u0002/g, (_, i) => slots[Number(i)]);
  }

  // ------------------------------------------------------------------ dates

  const MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December"];
  const DAYS = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

  function ordinal(n) {
    const s = n % 100 >= 11 && n % 100 <= 13 ? "th" : ({ 1: "st", 2: "nd", 3: "rd" })[n % 10] || "th";
    return `${n}${s}`;
  }

  function clock(d, secs) {
    const hours = d.getHours() % 12 || 12;
    const mm = String(d.getMinutes()).padStart(2, "0");
    const ss = secs ? `:${String(d.getSeconds()).padStart(2, "0")}` : "";
    return `${hours}:${mm}${ss} ${d.getHours() < 12 ? "AM" : "PM"}`;
  }

  function relativeDay(d) {
    const start = (x) => new Date(x.getFullYear(), x.getMonth(), x.getDate()).getTime();
    const days = Math.round((start(d) - start(new Date())) / 86400000);
    return ({ 0: "Today", "-1": "Yesterday", 1: "Tomorrow" })[days] || null;
  }

  function ago(d) {
    const secs = Math.round((Date.now() - d.getTime()) / 1000);
    const abs = Math.abs(secs);
    const [n, unit] = abs < 60 ? [abs, "second"] : abs < 3600 ? [Math.round(abs / 60), "minute"]
      : abs < 86400 ? [Math.round(abs / 3600), "hour"] : [Math.round(abs / 86400), "day"];
    const words = `${n} ${unit}${n === 1 ? "" : "s"}`;
    return secs >= 0 ? `${words} ago` : `in ${words}`;
  }

  /** Slack's <!date^ts^format|fallback> tokens, in the viewer's time zone. */
  function formatDate(ts, format, fallback) {
    const d = new Date(Number(ts) * 1000);
    if (!ts || Number.isNaN(d.getTime())) return fallback || "";
    const y = d.getFullYear();
    const tokens = {
      date_num: `${y}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`,
      date: `${MONTHS[d.getMonth()]} ${ordinal(d.getDate())}, ${y}`,
      date_short: `${MONTHS[d.getMonth()].slice(0, 3)} ${d.getDate()}, ${y}`,
      date_long: `${DAYS[d.getDay()]}, ${MONTHS[d.getMonth()]} ${ordinal(d.getDate())}, ${y}`,
      time: clock(d, false),
      time_secs: clock(d, true),
      ago: ago(d),
    };
    tokens.date_pretty = relativeDay(d) || tokens.date;
    tokens.date_short_pretty = relativeDay(d) || tokens.date_short;
    tokens.date_long_pretty = relativeDay(d) || tokens.date_long;
    let unknown = false;
    const text = String(format).replace(/\{(\w+)\}/g, (whole, name) => {
      if (!(name in tokens)) unknown = true;
      return tokens[name] || whole;
    });
    return unknown ? fallback || text : text;
  }

  function shortTime(ts) {
    const d = new Date(Number(ts) * 1000);
    return d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  // ------------------------------------------------------------------ Block Kit

  function plain(obj) {
    if (!obj) return "";
    if (typeof obj === "string") return obj;
    return obj.emoji === false ? obj.text || "" : emojify(obj.text || "");
  }

  function textEl(obj, ctx, cls) {
    if (!obj) return null;
    if (obj.type === "mrkdwn") return h("div", { class: `mk ${cls || ""}`, html: mrkdwn(obj.text, ctx) });
    return h("div", { class: `mk ${cls || ""}`, text: plain(obj) });
  }

  function optionsOf(el) {
    const groups = (el.option_groups || []).map((g) => ({ label: plain(g.label), options: g.options || [] }));
    return { flat: [...(el.options || []), ...groups.flatMap((g) => g.options)], groups };
  }

  function imageEl(url, alt, cls) {
    const img = h("img", { class: cls, src: url, alt: alt || "", loading: "lazy", referrerpolicy: "no-referrer" });
    img.addEventListener("error", () => img.replaceWith(h("span", { class: `${cls} img-missing`, text: `🖼 ${alt || "image"}` })));
    return img;
  }

  function pickerOptions(kind, ctx) {
    const pickers = ctx.pickers || {};
    if (kind.includes("users")) return pickers.users || [];
    if (kind.includes("conversations")) return pickers.conversations || [];
    return pickers.channels || [];
  }

  function selectEl(entries, { multiple, placeholder, initial }) {
    const select = h("select", { class: "bk-select", multiple: !!multiple, size: multiple ? Math.min(6, Math.max(3, entries.length)) : null });
    if (!multiple) select.append(h("option", { value: "", disabled: true, text: placeholder || "Select an item" }));
    const wanted = new Set((Array.isArray(initial) ? initial : [initial]).filter((v) => v !== undefined && v !== null));
    for (const entry of entries) {
      if (entry.group) {
        const group = h("optgroup", { label: entry.group });
        for (const o of entry.options) group.append(h("option", { value: o.value, text: o.label, selected: wanted.has(o.value) }));
        select.append(group);
      } else {
        select.append(h("option", { value: entry.value, text: entry.label, selected: wanted.has(entry.value) }));
      }
    }
    if (!multiple && !wanted.size) select.value = "";
    return select;
  }

  /** Build one element; returns { node, value() } (value() is the plain value the driver expects). */
  function buildControl(el, ctx, onChange) {
    const kind = el.type;
    const placeholder = plain(el.placeholder);
    const changed = (getter) => () => onChange && onChange(getter());
    switch (kind) {
      case "button": {
        const btn = h("button", { type: "button", class: `bk-btn ${el.style ? `bk-btn-${el.style}` : ""}`, text: plain(el.text) });
        btn.addEventListener("click", async () => {
          if (el.confirm && !(await confirmDialog(el.confirm, ctx))) return;
          if (el.url && SAFE_URL.test(el.url)) window.open(el.url, "_blank", "noopener,noreferrer");
          if (onChange) onChange(el.value === undefined ? null : el.value, btn);
        });
        return { node: btn, value: () => undefined };
      }
      case "plain_text_input":
      case "email_text_input":
      case "url_text_input":
      case "number_input":
      case "rich_text_input": {
        const multiline = el.multiline || kind === "rich_text_input";
        const type = { email_text_input: "email", url_text_input: "url", number_input: "number" }[kind] || "text";
        const input = multiline
          ? h("textarea", { class: "bk-textinput", rows: 4, placeholder, maxlength: el.max_length })
          : h("input", { class: "bk-textinput", type, placeholder, maxlength: el.max_length,
            step: kind === "number_input" ? (el.is_decimal_allowed ? "any" : "1") : null,
            min: el.min_value, max: el.max_value });
        input.value = el.initial_value || "";
        const value = () => (input.value === "" ? null : input.value);
        input.addEventListener("change", changed(value));
        return { node: input, value, focus: input };
      }
      case "static_select":
      case "external_select":
      case "multi_static_select":
      case "multi_external_select": {
        const multiple = kind.startsWith("multi_");
        const { flat, groups } = optionsOf(el);
        if (!flat.length && kind.includes("external")) {
          const input = h("input", { class: "bk-textinput", placeholder: placeholder || "Type a value (external options are not simulated)" });
          const value = () => (input.value ? (multiple ? [input.value] : input.value) : undefined);
          input.addEventListener("change", changed(value));
          return { node: input, value };
        }
        const entries = [
          ...(el.options || []).map((o) => ({ value: o.value, label: plain(o.text) })),
          ...groups.map((g) => ({ group: g.label, options: g.options.map((o) => ({ value: o.value, label: plain(o.text) })) })),
        ];
        const initial = multiple ? (el.initial_options || []).map((o) => o.value) : el.initial_option && el.initial_option.value;
        const select = selectEl(entries, { multiple, placeholder, initial });
        const value = () => (multiple ? [...select.selectedOptions].map((o) => o.value) : select.value || undefined);
        select.addEventListener("change", changed(value));
        return { node: select, value };
      }
      case "users_select":
      case "multi_users_select":
      case "conversations_select":
      case "multi_conversations_select":
      case "channels_select":
      case "multi_channels_select": {
        const multiple = kind.startsWith("multi_");
        const entries = pickerOptions(kind, ctx).map((p) => ({ value: p.id, label: p.label }));
        let initial = el.initial_user || el.initial_users || el.initial_conversation || el.initial_conversations
          || el.initial_channel || el.initial_channels;
        if (!initial && el.default_to_current_conversation && ctx.channel) initial = multiple ? [ctx.channel] : ctx.channel;
        const select = selectEl(entries, { multiple, placeholder, initial });
        const value = () => (multiple ? [...select.selectedOptions].map((o) => o.value) : select.value || undefined);
        select.addEventListener("change", changed(value));
        return { node: select, value };
      }
      case "checkboxes":
      case "radio_buttons": {
        const radio = kind === "radio_buttons";
        const name = `r${Math.random().toString(36).slice(2)}`;
        const initial = new Set(radio ? [el.initial_option && el.initial_option.value] : (el.initial_options || []).map((o) => o.value));
        const box = h("div", { class: "bk-choices" });
        for (const option of el.options || []) {
          const input = h("input", { type: radio ? "radio" : "checkbox", name, value: option.value, checked: initial.has(option.value) });
          box.append(h("label", { class: "bk-choice" }, input,
            h("span", {}, textEl(option.text, ctx, "bk-choice-text"), option.description ? textEl(option.description, ctx, "bk-choice-desc") : null)));
        }
        const value = () => {
          const picked = [...box.querySelectorAll("input:checked")].map((i) => i.value);
          return radio ? picked[0] : picked;
        };
        box.addEventListener("change", changed(value));
        return { node: box, value };
      }
      case "datepicker":
      case "timepicker":
      case "datetimepicker": {
        const type = { datepicker: "date", timepicker: "time", datetimepicker: "datetime-local" }[kind];
        const input = h("input", { class: "bk-textinput bk-date", type });
        if (kind === "datepicker" && el.initial_date) input.value = el.initial_date;
        if (kind === "timepicker" && el.initial_time) input.value = el.initial_time;
        if (kind === "datetimepicker" && el.initial_date_time) {
          const d = new Date(el.initial_date_time * 1000);
          input.value = new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);
        }
        const value = () => {
          if (!input.value) return undefined;
          return kind === "datetimepicker" ? Math.floor(Date.parse(input.value) / 1000) : input.value;
        };
        input.addEventListener("change", changed(value));
        return { node: input, value };
      }
      case "overflow": {
        const btn = h("button", { type: "button", class: "bk-btn bk-overflow", "aria-label": "More options", text: "⋯" });
        btn.addEventListener("click", (ev) => {
          ev.stopPropagation();
          openMenu(btn, (el.options || []).map((o) => ({ label: plain(o.text), run: () => onChange && onChange(o.value) })));
        });
        return { node: btn, value: () => undefined };
      }
      case "image":
        return { node: imageEl(el.image_url, el.alt_text, "bk-accessory-image"), value: () => undefined };
      case "workflow_button":
        return { node: h("button", { type: "button", class: "bk-btn", disabled: true, text: plain(el.text) }), value: () => undefined };
      default:
        return { node: h("span", { class: "bk-unsupported", text: `[${kind} is not simulated]` }), value: () => undefined };
    }
  }

  function renderElement(el, block, ctx) {
    const send = (value, button) => ctx.act && ctx.act({ action_id: el.action_id, block_id: block.block_id, value }, button);
    return buildControl(el, ctx, el.type === "image" ? null : send).node;
  }

  function renderInput(block, ctx) {
    const el = block.element || {};
    const dispatch = block.dispatch_action
      ? (value) => ctx.act && ctx.act({ action_id: el.action_id, block_id: block.block_id, value })
      : null;
    const control = buildControl(el, ctx, dispatch);
    const error = (ctx.errors || {})[block.block_id];
    const label = h("label", { class: "bk-label" }, plain(block.label), block.optional ? h("span", { class: "bk-optional", text: " (optional)" }) : null);
    const wrap = h("div", { class: `bk-input${error ? " has-error" : ""}`, dataset: { block: block.block_id || "" } },
      label, control.node,
      block.hint ? h("div", { class: "bk-hint", text: plain(block.hint) }) : null,
      h("div", { class: "bk-error", role: "alert", text: error || "", hidden: !error }));
    if (ctx.inputs) ctx.inputs.push({ block, element: el, value: control.value, wrap });
    return wrap;
  }

  function renderRichInline(e, ctx) {
    let node;
    switch (e.type) {
      case "text":
        node = document.createTextNode(e.text || "");
        break;
      case "link":
        node = SAFE_URL.test(e.url || "")
          ? h("a", { href: e.url, target: "_blank", rel: "noopener noreferrer", text: e.text || e.url })
          : document.createTextNode(e.text || e.url || "");
        break;
      case "user":
        node = h("span", { class: `mention${ctx.me === e.user_id ? " mention-me" : ""}`, text: `@${userName(e.user_id, ctx)}` });
        break;
      case "usergroup":
        node = h("span", { class: "mention mention-group", text: `@${(ctx.groups || {})[e.usergroup_id] || "group"}` });
        break;
      case "channel":
        node = h("span", { class: "mention channel-mention", dataset: { channel: e.channel_id }, text: `#${channelName(e.channel_id, ctx)}` });
        break;
      case "broadcast":
        node = h("span", { class: "mention mention-group", text: `@${e.range}` });
        break;
      case "emoji":
        node = document.createTextNode(e.unicode ? String.fromCodePoint(...e.unicode.split("-").map((x) => parseInt(x, 16))) : emojiChar(e.name) || `:${e.name}:`);
        break;
      case "date":
        node = document.createTextNode(formatDate(e.timestamp, e.format || "{date_short} {time}", e.fallback));
        break;
      default:
        node = document.createTextNode(e.text || "");
    }
    const style = e.style || {};
    if (style.code) node = h("code", { class: "mk-code" }, node);
    if (style.bold) node = h("b", {}, node);
    if (style.italic) node = h("i", {}, node);
    if (style.strike) node = h("s", {}, node);
    return node;
  }

  function renderRichText(block, ctx) {
    const box = h("div", { class: "bk-rich" });
    for (const part of block.elements || []) {
      const inline = (part.elements || []).map((e) => renderRichInline(e, ctx));
      if (part.type === "rich_text_section") box.append(h("div", { class: "rt-section" }, inline));
      else if (part.type === "rich_text_quote") box.append(h("blockquote", { class: "mk-quote" }, inline));
      else if (part.type === "rich_text_preformatted") box.append(h("pre", { class: "mk-pre" }, inline));
      else if (part.type === "rich_text_list") {
        const list = h(part.style === "ordered" ? "ol" : "ul", { class: `rt-list rt-indent-${part.indent || 0}` });
        for (const item of part.elements || []) list.append(h("li", {}, (item.elements || []).map((e) => renderRichInline(e, ctx))));
        box.append(list);
      }
    }
    return box;
  }

  function renderBlock(block, ctx) {
    switch (block.type) {
      case "section": {
        const main = h("div", { class: "bk-section-main" },
          textEl(block.text, ctx, "bk-text"),
          block.fields ? h("div", { class: "bk-fields" }, block.fields.map((f) => textEl(f, ctx, "bk-field"))) : null);
        return h("div", { class: "bk-section" }, main,
          block.accessory ? h("div", { class: "bk-accessory" }, renderElement(block.accessory, block, ctx)) : null);
      }
      case "header":
        return h("div", { class: "bk-header", text: plain(block.text) });
      case "divider":
        return h("hr", { class: "bk-divider" });
      case "context":
        return h("div", { class: "bk-context" }, (block.elements || []).map((e) =>
          e.type === "image" ? imageEl(e.image_url, e.alt_text, "bk-context-image") : textEl(e, ctx, "bk-context-text")));
      case "actions":
        return h("div", { class: "bk-actions" }, (block.elements || []).map((e) => renderElement(e, block, ctx)));
      case "image":
        return h("figure", { class: "bk-image" },
          block.title ? h("figcaption", { text: plain(block.title) }) : null,
          imageEl(block.image_url || (block.slack_file && block.slack_file.url) || "", block.alt_text, "bk-image-img"));
      case "rich_text":
        return renderRichText(block, ctx);
      case "input":
        return renderInput(block, ctx);
      case "markdown":
        return h("div", { class: "mk bk-text", html: mrkdwn(block.text, ctx) });
      case "file":
        return h("div", { class: "file-chip", text: `📄 file ${block.external_id || block.file_id || ""}` });
      case "video":
        return h("div", { class: "bk-text" }, h("span", { text: "▶ " }), h("span", { text: plain(block.title) }));
      default:
        return h("div", { class: "bk-unsupported", text: `[${block.type} block is not rendered by the sandbox]` });
    }
  }

  function renderBlocks(blocks, ctx) {
    const frag = document.createDocumentFragment();
    for (const block of blocks || []) frag.append(renderBlock(block, ctx));
    return frag;
  }

  function renderAttachments(attachments, ctx) {
    return (attachments || []).map((a) => h("div", { class: "attachment", style: a.color ? `border-left-color:${/^#?[0-9a-fA-F]{3,6}$/.test(a.color) ? (a.color[0] === "#" ? a.color : `#${a.color}`) : "#ddd"}` : null },
      a.pretext ? h("div", { class: "mk", html: mrkdwn(a.pretext, ctx) }) : null,
      a.title ? h("div", { class: "attachment-title", text: a.title }) : null,
      a.blocks ? renderBlocks(a.blocks, ctx) : a.text ? h("div", { class: "mk", html: mrkdwn(a.text, ctx) }) : null,
      (a.fields || []).map((f) => h("div", { class: "bk-field" }, h("b", { text: f.title || "" }), h("div", { class: "mk", html: mrkdwn(f.value || "", ctx) }))),
      a.footer ? h("div", { class: "bk-context-text", text: a.footer }) : null));
  }

  // ------------------------------------------------------------------ small UI pieces

  function toast(text, kind) {
    const node = h("div", { class: `toast ${kind || ""}`, role: "status", text });
    $("toasts").append(node);
    setTimeout(() => node.remove(), kind === "error" ? 9000 : 5000);
  }

  let openMenuNode = null;
  function closeMenu() {
    if (openMenuNode) openMenuNode.remove();
    openMenuNode = null;
  }

  function openMenu(anchor, items, title) {
    closeMenu();
    const menu = h("div", { class: "menu", role: "menu" }, title ? h("div", { class: "menu-title", text: title }) : null,
      items.map((item) => h("button", {
        type: "button", class: "menu-item", role: "menuitem",
        onclick: (ev) => { ev.stopPropagation(); closeMenu(); item.run(); },
      }, item.icon ? h("span", { class: "menu-icon", text: item.icon }) : null, item.label)));
    document.body.append(menu);
    const r = anchor.getBoundingClientRect();
    const top = Math.min(r.bottom + 4, window.innerHeight - menu.offsetHeight - 8);
    menu.style.top = `${Math.max(8, top)}px`;
    menu.style.left = `${Math.max(8, Math.min(r.right - menu.offsetWidth, window.innerWidth - menu.offsetWidth - 8))}px`;
    openMenuNode = menu;
  }

  document.addEventListener("click", (ev) => {
    if (openMenuNode && !openMenuNode.contains(ev.target)) closeMenu();
  });

  function confirmDialog(confirm, ctx) {
    return new Promise((resolve) => {
      const done = (ok) => { overlay.remove(); resolve(ok); };
      const overlay = h("div", { class: "overlay confirm-overlay" },
        h("div", { class: "modal modal-confirm", role: "alertdialog", "aria-modal": "true" },
          h("div", { class: "modal-header" }, h("h2", { class: "modal-title", text: plain(confirm.title) || "Are you sure?" })),
          h("div", { class: "modal-body" }, textEl(confirm.text, ctx, "bk-text")),
          h("div", { class: "modal-footer" },
            h("button", { type: "button", class: "btn", text: plain(confirm.deny) || "Cancel", onclick: () => done(false) }),
            h("button", { type: "button", class: `btn ${confirm.style === "danger" ? "btn-danger" : "btn-primary"}`, text: plain(confirm.confirm) || "Yes", onclick: () => done(true) }))));
      document.body.append(overlay);
    });
  }

  const PALETTE = ["#e8912d", "#2eb67d", "#36c5f0", "#e01e5a", "#4a154b", "#1264a3", "#9f69e7", "#b7410e", "#0b7a75"];
  function colorOf(id) {
    let n = 0;
    for (const ch of String(id)) n = (n * 31 + ch.charCodeAt(0)) >>> 0;
    return PALETTE[n % PALETTE.length];
  }

  function initials(name) {
    return String(name || "?").split(/\s+/).filter(Boolean).slice(0, 2).map((w) => w[0].toUpperCase()).join("");
  }

  function avatar(user, cls) {
    if (!user) return h("span", { class: `avatar ${cls || ""}`, text: "?" });
    if (user.is_bot) return h("span", { class: `avatar avatar-bot ${cls || ""}`, text: "🤖", "aria-hidden": "true" });
    return h("span", { class: `avatar ${cls || ""}`, style: `background:${colorOf(user.id)}`, text: initials(user.real_name), "aria-hidden": "true" });
  }

  // ------------------------------------------------------------------ state and server calls

  const S = {
    as: null,
    channel: null, // channel id, or "app" for the App Home
    appTab: "home",
    thread: null,
    data: null,
    seq: 0,
    rendered: { messages: "", thread: "", modal: "", sidebar: "" },
    seen: JSON.parse(localStorage.getItem("sandbox.seen") || "{}"),
    lastChannel: JSON.parse(localStorage.getItem("sandbox.lastChannel") || "{}"),
    hiddenTips: JSON.parse(localStorage.getItem("sandbox.hiddenTips") || "{}"),
    homeOpened: {},
    live: false,
  };

  async function api(path, body) {
    const response = await fetch(`/sandbox/${path}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ as: S.as, ...body }),
    });
    let data = {};
    try { data = await response.json(); } catch { data = { ok: false, error: `HTTP ${response.status}` }; }
    if (!data.ok) toast(data.error || `HTTP ${response.status}`, "error");
    else if (data.notice) toast(data.notice, "warn");
    scheduleRefresh(0);
    return data;
  }

  let refreshTimer = null;
  function scheduleRefresh(delay) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, delay === undefined ? 60 : delay);
  }

  function viewedChannelId() {
    if (S.channel === "app") return S.appTab === "messages" && S.data && S.data.app.dm ? S.data.app.dm : null;
    return S.channel;
  }

  async function refresh() {
    const seq = ++S.seq;
    const params = new URLSearchParams();
    if (S.as) params.set("as", S.as);
    const chan = viewedChannelId();
    if (chan) params.set("channel", chan);
    if (chan && S.thread) params.set("thread", S.thread);
    let response;
    try {
      response = await fetch(`/sandbox/state?${params}`, { cache: "no-store" });
    } catch {
      setLive(false);
      return;
    }
    const data = await response.json().catch(() => ({ ok: false, error: "bad answer" }));
    if (seq !== S.seq) return;
    if (!data.ok) {
      if (response.status === 404 && data.error && data.error.startsWith("unknown person")) {
        S.as = null;
        return refresh();
      }
      if (response.status === 403 || response.status === 404) {
        S.channel = null;
        S.thread = null;
        return refresh();
      }
      toast(data.error || "could not load", "error");
      return;
    }
    S.data = data;
    if (S.as !== data.me.id) {
      S.as = data.me.id;
      persist();
    }
    if (!S.channel) {
      const remembered = S.lastChannel[S.as];
      const valid = remembered === "app" || data.channels.some((c) => c.id === remembered);
      S.channel = valid ? remembered : (data.channels[0] && data.channels[0].id) || "app";
      return refresh();
    }
    render();
  }

  function persist() {
    localStorage.setItem("sandbox.seen", JSON.stringify(S.seen));
    localStorage.setItem("sandbox.lastChannel", JSON.stringify(S.lastChannel));
    const hash = new URLSearchParams({ as: S.as || "", c: S.channel || "" });
    history.replaceState(null, "", `#${hash}`);
  }

  function choosePerson(id) {
    S.as = id;
    S.channel = null;
    S.thread = null;
    S.rendered = { messages: "", thread: "", modal: "", sidebar: "" };
    persist();
    refresh();
  }

  function chooseChannel(id, opts) {
    S.channel = id;
    S.thread = (opts && opts.thread) || null;
    S.lastChannel[S.as] = id;
    persist();
    if (id === "app") openAppHome(S.appTab);
    refresh();
    $("composer-input").focus();
  }

  async function openAppHome(tab) {
    S.appTab = tab;
    await api("home", { tab });
  }

  // ------------------------------------------------------------------ rendering the page

  function renderCtx(extra) {
    const d = S.data;
    return {
      users: d.users, groups: d.groups, channels: d.channels, me: S.as, pickers: d.pickers,
      channel: viewedChannelId(), ...extra,
    };
  }

  function render() {
    renderTopbar();
    renderSidebar();
    renderMain();
    renderThread();
    renderModal();
  }

  function renderTopbar() {
    const d = S.data;
    const me = d.me;
    $("workspace-name").textContent = me.external ? `${me.team_name} · Slack Connect with ${d.workspace.name}` : d.workspace.name;
    const select = $("acting-as");
    const signature = JSON.stringify(d.people.map((p) => p.id)) + S.as;
    if (select.dataset.sig !== signature) {
      select.replaceChildren();
      const teams = [];
      for (const p of d.people) if (!teams.includes(p.team_id)) teams.push(p.team_id);
      teams.sort((a, b) => (a === d.workspace.team_id) - (b === d.workspace.team_id));
      for (const team of teams) {
        const people = d.people.filter((p) => p.team_id === team);
        const label = team === d.workspace.team_id ? `Support team · ${d.workspace.name}` : `Customer · ${people[0].team_name}`;
        const group = h("optgroup", { label });
        for (const p of people) group.append(h("option", { value: p.id, text: `${p.real_name} — ${p.title || p.team_name}`, selected: p.id === S.as }));
        select.append(group);
      }
      select.value = S.as;
      select.dataset.sig = signature;
    }
    $("acting-avatar").replaceWith(Object.assign(avatar(me, "avatar-sm"), { id: "acting-avatar" }));
  }

  function unread(chan) {
    const seen = (S.seen[S.as] || {})[chan.id];
    return !!chan.latest_ts && (!seen || chan.latest_ts > seen);
  }

  function markSeen(id, ts) {
    if (!id || !ts) return;
    S.seen[S.as] = S.seen[S.as] || {};
    if ((S.seen[S.as][id] || "") < ts) {
      S.seen[S.as][id] = ts;
      persist();
    }
  }

  function renderSidebar() {
    const d = S.data;
    if (!S.seen[S.as]) {
      S.seen[S.as] = {};
      for (const c of d.channels) if (c.latest_ts && c.id !== S.channel) S.seen[S.as][c.id] = c.latest_ts;
    }
    const current = viewedChannelId();
    if (current) {
      const c = d.channels.find((x) => x.id === current);
      if (c) markSeen(c.id, c.latest_ts);
      else if (current === d.app.dm) markSeen(current, d.app.dm_latest_ts);
    }
    const me = d.me;
    $("persona").replaceChildren(
      avatar(me, "avatar-lg"),
      h("div", { class: "persona-text" },
        h("div", { class: "persona-name", text: me.real_name }),
        h("div", { class: "persona-role", text: me.title || "" }),
        h("div", { class: `persona-org ${me.external ? "is-external" : ""}`, text: me.external ? `${me.team_name} (customer)` : me.team_name })));

    const item = (id, icon, name, extra) => {
      const active = S.channel === id;
      const isUnread = extra && extra.unread && !active;
      return h("button", {
        type: "button", class: `chan${active ? " active" : ""}${isUnread ? " unread" : ""}`, title: extra && extra.title,
        dataset: { channel: id, testid: `channel-${name}` }, "aria-current": active ? "page" : null,
        onclick: () => chooseChannel(id),
      }, h("span", { class: "chan-icon", text: icon, "aria-hidden": "true" }), h("span", { class: "chan-name", text: name }),
      extra && extra.note ? h("span", { class: "chan-note", text: extra.note }) : null,
      isUnread ? h("span", { class: "chan-dot", "aria-label": "new messages" }) : null);
    };
    const section = (title, items) => (items.length ? h("div", { class: "side-section" }, h("div", { class: "side-title", text: title }), items) : null);
    const appUnread = d.app.dm && d.app.dm_latest_ts && (!(S.seen[S.as] || {})[d.app.dm] || d.app.dm_latest_ts > S.seen[S.as][d.app.dm]);
    const internal = d.channels.filter((c) => c.kind === "channel" || c.kind === "private");
    const shared = d.channels.filter((c) => c.kind === "shared");
    const groupDms = d.channels.filter((c) => c.kind === "group_dm");
    const list = $("channel-list");
    list.replaceChildren(...[
      section("Apps", [item("app", "🤖", d.app.name, { unread: appUnread, note: "App Home", title: "The app's Home tab and your messages with it" })]),
      section("Channels", internal.map((c) => item(c.id, c.kind === "private" ? "🔒" : "#", c.name, { unread: unread(c) }))),
      section(me.external ? "Shared channels" : "Slack Connect (customers)",
        shared.map((c) => item(c.id, "⇄", c.name, {
          unread: unread(c), note: me.external ? null : c.shared_with.join(", "),
          title: `Slack Connect channel shared between ${me.external ? me.team_name : d.workspace.name} and ${c.shared_with.join(", ")}`,
        }))),
      section("Direct messages", groupDms.map((c) => item(c.id, "👥", c.name, { unread: unread(c) }))),
      h("div", { class: "side-foot", text: `${d.channels.length} channel${d.channels.length === 1 ? "" : "s"} visible to ${me.real_name.split(" ")[0]}` }),
    ].filter(Boolean));
  }

  function channelHeader(chan) {
    const icon = chan.kind === "shared" ? "⇄" : chan.kind === "private" ? "🔒" : "#";
    const who = chan.kind === "shared"
      ? (S.data.me.external ? `Slack Connect · shared with ${chan.shared_with.join(", ")}` : `Slack Connect · customer ${chan.shared_with.join(", ")} reads this channel`)
      : "Internal channel · only the support team";
    return [
      h("div", { class: "pane-title" }, h("span", { class: "chan-icon", text: icon }), h("span", { text: chan.name })),
      h("div", { class: "pane-sub" }, h("span", { class: chan.kind === "shared" ? "badge badge-connect" : "badge", text: who }),
        h("span", { text: `${chan.members} members` }), chan.topic ? h("span", { text: chan.topic }) : null),
    ];
  }

  function messageSignature(parts) {
    return JSON.stringify(parts);
  }

  function renderMain() {
    const d = S.data;
    const header = $("channel-header");
    const tip = $("tip");
    const composer = $("composer");
    const input = $("composer-input");
    if (d.hint && !S.hiddenTips[S.as]) {
      tip.hidden = false;
      tip.replaceChildren(h("span", { class: "tip-icon", text: "💡" }), h("span", { class: "mk", html: mrkdwn(d.hint, renderCtx()) }),
        h("button", { type: "button", class: "close-x", "aria-label": "Hide this tip", title: "Hide this tip", text: "×", onclick: () => {
          S.hiddenTips[S.as] = true;
          localStorage.setItem("sandbox.hiddenTips", JSON.stringify(S.hiddenTips));
          tip.hidden = true;
        } }));
    } else tip.hidden = true;

    if (S.channel === "app") {
      const tabs = h("div", { class: "tabs", role: "tablist" },
        h("button", { type: "button", role: "tab", class: `tab${S.appTab === "home" ? " active" : ""}`, text: "Home", onclick: () => { openAppHome("home"); } }),
        d.app.messages_tab || d.app.dm_latest_ts
          ? h("button", { type: "button", role: "tab", class: `tab${S.appTab === "messages" ? " active" : ""}`, text: "Messages", onclick: () => { openAppHome("messages"); } })
          : null);
      header.replaceChildren(h("div", { class: "pane-title" }, h("span", { class: "chan-icon", text: "🤖" }), h("span", { text: d.app.name }), h("span", { class: "badge badge-app", text: "APP" })), tabs);
      if (S.appTab === "home") {
        composer.hidden = true;
        const sig = messageSignature(["home", d.app.home]);
        if (S.rendered.messages !== sig) {
          const box = $("messages");
          box.replaceChildren(d.app.home
            ? h("div", { class: "home-view" }, renderBlocks(d.app.home.blocks, renderCtx({ act: (p, btn) => clickAction({ view_id: d.app.home.id, ...p }, btn) })))
            : h("div", { class: "empty" }, h("div", { class: "empty-title", text: `${d.app.name} has not published a Home tab yet` }),
              h("div", { text: "When the app publishes one (views.publish), it appears here for each person." })));
          S.rendered.messages = sig;
        }
        return;
      }
    } else if (d.channel) {
      header.replaceChildren(...channelHeader(d.channel));
    }
    composer.hidden = false;
    const channel = d.channel;
    const readOnly = S.channel === "app" && d.app.messages_tab_read_only;
    $("composer-send").disabled = !!readOnly;
    composer.classList.toggle("readonly", !!readOnly);
    input.disabled = !!readOnly;
    input.placeholder = readOnly ? "Sending messages to this app has been turned off." : S.channel === "app" ? `Message ${d.app.name}` : channel ? `Message #${channel.name}` : "";
    const items = channel ? [...channel.messages, ...channel.ephemerals].sort((a, b) => (a.ts < b.ts ? -1 : 1)) : [];
    const sig = messageSignature([S.as, S.channel, items]);
    if (S.rendered.messages === sig) return;
    S.rendered.messages = sig;
    const box = $("messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    const nodes = items.map((m) => (m.ephemeral ? renderEphemeral(m, channel) : renderMessage(m, { channel: channel.id })));
    if (!items.length) {
      nodes.push(h("div", { class: "empty" },
        h("div", { class: "empty-title", text: S.channel === "app" ? `This is the start of your messages with ${d.app.name}` : `This is the very beginning of ${channel ? `#${channel.name}` : "the conversation"}` }),
        h("div", { text: channel && channel.kind === "shared" ? "Messages here are seen by the customer's people and by the support team." : "Write the first message below." })));
    }
    box.replaceChildren(...nodes);
    if (atBottom || !box.dataset.channel || box.dataset.channel !== S.channel) box.scrollTop = box.scrollHeight;
    box.dataset.channel = S.channel;
  }

  function authorOf(m) {
    const d = S.data;
    if (m.bot_id) return { id: d.app.bot_user_id, real_name: (m.bot_profile && m.bot_profile.name) || d.app.name, is_bot: true };
    return d.users[m.user] || { id: m.user, real_name: m.user || "unknown" };
  }

  function messageCtx(m, container) {
    return renderCtx({ act: (payload, btn) => clickAction({ ...container, ...payload }, btn) });
  }

  async function clickAction(payload, button) {
    if (button) button.classList.add("busy");
    try {
      await api("click", payload);
    } finally {
      if (button) button.classList.remove("busy");
    }
  }

  function messageBody(m, ctx) {
    const body = h("div", { class: "msg-body" });
    if (m.blocks && m.blocks.length) body.append(renderBlocks(m.blocks, ctx));
    else if (m.text) body.append(h("div", { class: "mk", html: mrkdwn(m.text, ctx) }));
    body.append(...renderAttachments(m.attachments, ctx));
    for (const f of m.files || []) body.append(h("div", { class: "file-chip", text: `📄 ${f.title || f.name} · ${f.size} bytes` }));
    return body;
  }

  function renderMessage(m, opts) {
    const d = S.data;
    const author = authorOf(m);
    const channelId = opts.channel;
    const ctx = messageCtx(m, { channel: channelId, ts: m.ts });
    const head = h("div", { class: "msg-head" },
      h("span", { class: "msg-author", text: author.real_name }),
      author.is_bot ? h("span", { class: "badge badge-app", text: "APP" }) : null,
      author.external ? h("span", { class: "badge badge-org", text: author.team_name }) : null,
      h("span", { class: "msg-time", title: new Date(Number(m.ts) * 1000).toLocaleString(), text: shortTime(m.ts) }),
      m.edited ? h("span", { class: "msg-edited", text: "(edited)" }) : null);
    const reactions = (m.reactions || []).length
      ? h("div", { class: "reactions" }, m.reactions.map((r) => h("button", {
        type: "button", class: `reaction${r.users.includes(S.as) ? " mine" : ""}`,
        title: r.users.map((u) => (d.users[u] ? d.users[u].real_name : u)).join(", ") + ` reacted with :${r.name}:`,
        onclick: () => react(channelId, m.ts, r.name),
      }, `${emojiChar(r.name) || `:${r.name}:`} ${r.count}`)))
      : null;
    const thread = !opts.inThread && m.reply_count
      ? h("button", { type: "button", class: "thread-link", onclick: () => openThread(m.ts) },
        h("span", { class: "thread-avatars" }, (m.reply_users || []).slice(0, 3).map((u) => avatar(d.users[u], "avatar-xs"))),
        h("b", { text: `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}` }),
        h("span", { class: "thread-last", text: `Last reply ${shortTime(m.latest_reply)}` }))
      : null;
    const tools = h("div", { class: "msg-tools" },
      h("button", { type: "button", class: "tool", title: "React with 🎫 :ticket:", "aria-label": "React with ticket", onclick: () => react(channelId, m.ts, "ticket") }, "🎫"),
      h("button", { type: "button", class: "tool", title: "Add reaction", "aria-label": "Add reaction", onclick: (ev) => { ev.stopPropagation(); openMenu(ev.currentTarget, REACTION_CHOICES.map((n) => ({ icon: emojiChar(n), label: `:${n}:`, run: () => react(channelId, m.ts, n) })), "Add reaction"); } }, "😀"),
      opts.inThread ? null : h("button", { type: "button", class: "tool", title: "Reply in thread", "aria-label": "Reply in thread", onclick: () => openThread(m.ts) }, "💬"),
      h("button", { type: "button", class: "tool", title: "More actions", "aria-label": "More actions", onclick: (ev) => { ev.stopPropagation(); moreActions(ev.currentTarget, channelId, m); } }, "⋮"));
    return h("div", { class: `msg${author.is_bot ? " from-app" : ""}`, dataset: { ts: m.ts } },
      avatar(author), h("div", { class: "msg-main" }, head, messageBody(m, ctx), reactions, thread), tools);
  }

  function renderEphemeral(e, channel) {
    const d = S.data;
    const ctx = messageCtx(e, { ephemeral_ts: e.ts });
    return h("div", { class: "msg msg-ephemeral", dataset: { ts: e.ts, testid: "ephemeral" } },
      avatar({ is_bot: true }),
      h("div", { class: "msg-main" },
        h("div", { class: "msg-head" }, h("span", { class: "msg-author", text: d.app.name }), h("span", { class: "badge badge-app", text: "APP" }),
          h("span", { class: "msg-time", text: shortTime(e.ts) })),
        h("div", { class: "only-you" }, h("span", { text: "👁 Only visible to you" })),
        messageBody(e, ctx),
        h("button", { type: "button", class: "link-btn", text: "Dismiss message", onclick: () => api("dismiss", { ts: e.ts }) })));
  }

  function moreActions(anchor, channelId, m) {
    const shortcuts = S.data.shortcuts.filter((s) => s.type !== "global");
    const items = shortcuts.map((s) => ({ icon: "⚡", label: s.name, run: () => api("shortcut", { callback_id: s.callback_id, channel: channelId, ts: m.ts }) }));
    items.push({ icon: "🔗", label: "Copy message link", run: () => copyLink(channelId, m) });
    openMenu(anchor, items, `${S.data.app.name} shortcuts`);
  }

  function copyLink(channelId, m) {
    const link = `https://${S.data.workspace.domain}.slack.com/archives/${channelId}/p${m.ts.replace(".", "")}`;
    (navigator.clipboard ? navigator.clipboard.writeText(link) : Promise.reject()).then(
      () => toast("Link copied (it points to this sandbox's message)."),
      () => toast(link));
  }

  function react(channelId, ts, name) {
    return api("react", { channel: channelId, ts, name });
  }

  function openThread(ts) {
    S.thread = ts;
    S.rendered.thread = "";
    refresh();
    setTimeout(() => $("thread-input").focus(), 50);
  }

  function renderThread() {
    const pane = $("thread-pane");
    const t = S.data.thread;
    if (!S.thread || !t) {
      pane.hidden = true;
      return;
    }
    pane.hidden = false;
    const channel = S.data.channel;
    $("thread-header").replaceChildren(
      h("div", { class: "pane-title" }, h("span", { text: "Thread" })),
      h("div", { class: "pane-sub" }, h("span", { text: channel ? `#${channel.name}` : "" })),
      h("button", { type: "button", class: "close-x", "aria-label": "Close thread", text: "×", onclick: () => { S.thread = null; refresh(); } }));
    const items = [...t.replies, ...t.ephemerals].sort((a, b) => (a.ts < b.ts ? -1 : 1));
    const sig = messageSignature([S.as, t]);
    if (S.rendered.thread === sig) return;
    S.rendered.thread = sig;
    const box = $("thread-messages");
    const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 80;
    box.replaceChildren(
      renderMessage(t.parent, { channel: t.channel, inThread: true }),
      h("div", { class: "thread-divider", text: `${t.replies.length} ${t.replies.length === 1 ? "reply" : "replies"}` }),
      ...items.map((m) => (m.ephemeral ? renderEphemeral(m, channel) : renderMessage(m, { channel: t.channel, inThread: true }))));
    if (atBottom || box.dataset.thread !== t.ts) box.scrollTop = box.scrollHeight;
    box.dataset.thread = t.ts;
  }

  // ------------------------------------------------------------------ modals

  let modalInputs = [];
  let modalLocalErrors = {};
  let modalEdited = new Set(); // fields changed since their error was shown: Slack hides the error then

  function renderModal() {
    const root = $("modal-root");
    const modal = S.data.modal;
    if (!modal) {
      root.replaceChildren();
      S.rendered.modal = "";
      return;
    }
    const view = modal.view;
    const key = `${S.as}:${view.id}:${view.hash}`;
    const errors = { ...modal.errors, ...modalLocalErrors };
    if (S.rendered.modal === key) {
      applyModalErrors(errors);
      return;
    }
    const previous = S.rendered.modal.split(":")[1] === view.id ? collectTyped() : {};
    S.rendered.modal = key;
    modalLocalErrors = {};
    modalInputs = [];
    const ctx = renderCtx({
      inputs: modalInputs,
      errors: modal.errors,
      act: (payload, btn) => clickAction({ view_id: view.id, ...payload }, btn),
    });
    const body = h("div", { class: "modal-body" }, renderBlocks(view.blocks, ctx));
    const submitBtn = view.submit
      ? h("button", { type: "submit", class: "btn btn-primary", text: plain(view.submit), dataset: { testid: "modal-submit" } })
      : null;
    const close = () => api("close", { view_id: view.id });
    const form = h("form", { class: "modal", role: "dialog", "aria-modal": "true", "aria-label": plain(view.title), dataset: { view: view.id, testid: "modal" },
      onsubmit: (ev) => { ev.preventDefault(); submitModal(view, submitBtn); } },
    h("div", { class: "modal-header" },
      modal.depth > 1 ? h("button", { type: "button", class: "close-x back", "aria-label": "Back", text: "←", onclick: close }) : null,
      h("span", { class: "avatar avatar-bot avatar-sm", text: "🤖", "aria-hidden": "true" }),
      h("h2", { class: "modal-title", text: plain(view.title) }),
      h("button", { type: "button", class: "close-x", "aria-label": "Close", text: "×", onclick: close })),
    body,
    h("div", { class: "modal-footer" },
      h("span", { class: "modal-note", text: "Sent to the app as view_submission" }),
      h("button", { type: "button", class: "btn", text: plain(view.close) || "Cancel", onclick: close }),
      submitBtn));
    root.replaceChildren(h("div", { class: "overlay", onkeydown: (ev) => { if (ev.key === "Escape") close(); } }, form));
    modalEdited = new Set();
    for (const input of modalInputs) {
      const typed = previous[`${input.block.block_id}/${input.element.action_id}`];
      if (typed !== undefined) setTyped(input, typed);
      const edited = () => {
        modalEdited.add(input.block.block_id);
        applyModalErrors({ ...(S.data.modal ? S.data.modal.errors : {}), ...modalLocalErrors });
      };
      input.wrap.addEventListener("input", edited);
      input.wrap.addEventListener("change", edited);
    }
    const first = form.querySelector("input:not([type=hidden]), textarea, select");
    if (first) first.focus();
    // A shadow under the header / over the footer while part of a long form is out of view.
    const edges = () => {
      form.classList.toggle("more-above", body.scrollTop > 2);
      form.classList.toggle("more-below", body.scrollHeight - body.scrollTop - body.clientHeight > 2);
    };
    body.addEventListener("scroll", edges, { passive: true });
    requestAnimationFrame(edges);
  }

  function collectTyped() {
    const out = {};
    for (const input of modalInputs) {
      const field = input.wrap.querySelector("input[type=text], textarea");
      if (field) out[`${input.block.block_id}/${input.element.action_id}`] = field.value;
    }
    return out;
  }

  function setTyped(input, value) {
    const field = input.wrap.querySelector("input[type=text], textarea");
    if (field) field.value = value;
  }

  function applyModalErrors(errors) {
    for (const input of modalInputs) {
      const message = modalEdited.has(input.block.block_id) ? null : errors[input.block.block_id];
      const node = input.wrap.querySelector(".bk-error");
      input.wrap.classList.toggle("has-error", !!message);
      node.hidden = !message;
      node.textContent = message || "";
    }
  }

  /** After a refused submit, bring the first field with an error into view and put the cursor there
   * (in a long form the Submit button is far from the field that needs attention). */
  function revealFirstError() {
    const input = modalInputs.find((i) => i.wrap.classList.contains("has-error"));
    if (!input) return;
    input.wrap.scrollIntoView({ block: "nearest" });
    const field = input.wrap.querySelector("input:not([type=hidden]), textarea, select");
    if (field) field.focus({ preventScroll: true });
  }

  async function submitModal(view, submitBtn) {
    const values = {};
    modalLocalErrors = {};
    modalEdited = new Set();
    for (const input of modalInputs) {
      const value = input.value();
      const empty = value === undefined || value === null || (Array.isArray(value) && !value.length);
      const el = input.element;
      if (empty && !input.block.optional) modalLocalErrors[input.block.block_id] = "Please fill out this field.";
      else if (!empty && el.min_length && String(value).length < el.min_length) {
        modalLocalErrors[input.block.block_id] = `Please enter at least ${el.min_length} characters.`;
      }
      if (value === undefined || !el.action_id) continue;
      values[input.block.block_id] = { ...(values[input.block.block_id] || {}), [el.action_id]: value };
    }
    if (Object.keys(modalLocalErrors).length) {
      applyModalErrors(modalLocalErrors);
      revealFirstError();
      return;
    }
    if (submitBtn) submitBtn.disabled = true;
    try {
      const answer = await api("submit", { view_id: view.id, values });
      if (answer.errors && Object.keys(answer.errors).length) {
        applyModalErrors(answer.errors);
        revealFirstError();
      }
    } finally {
      if (submitBtn) submitBtn.disabled = false;
    }
  }

  // ------------------------------------------------------------------ composers

  function autosize(area) {
    area.style.height = "auto";
    area.style.height = `${Math.min(area.scrollHeight, 180)}px`;
  }

  async function send(text, threadTs) {
    const trimmed = text.trim();
    if (!trimmed) return false;
    const channel = S.channel === "app" ? "app" : S.channel;
    const cmd = trimmed.match(/^(\/\S+)(?:\s+([\s\S]*))?$/);
    if (cmd && text.startsWith("/")) {
      const known = S.data.commands.some((c) => c.command === cmd[1]);
      if (!known) {
        toast(`${cmd[1]} is not a valid command. In Slack, messages that start with "/" are commands; add a space before it to send it as text.`, "error");
        return false;
      }
      const answer = await api("command", { channel, command: cmd[1], text: (cmd[2] || "").trim() });
      return !!answer.ok;
    }
    const answer = await api("post", { channel, text, thread_ts: threadTs || undefined });
    return !!answer.ok;
  }

  function setupComposer(form, area, getThread) {
    const menu = form.querySelector(".command-menu");
    const updateMenu = () => {
      if (!menu || !S.data) return;
      const text = area.value;
      const match = text.match(/^\/(\S*)$/);
      const commands = match ? S.data.commands.filter((c) => c.command.startsWith(`/${match[1]}`)) : [];
      menu.hidden = !commands.length;
      menu.replaceChildren(...commands.map((c) => h("button", {
        type: "button", class: "command-item", onclick: () => { area.value = `${c.command} `; menu.hidden = true; area.focus(); },
      }, h("b", { text: c.command }), c.usage_hint ? h("span", { class: "command-hint", text: c.usage_hint }) : null,
      h("span", { class: "command-desc", text: c.description || "" }))));
    };
    area.addEventListener("input", () => { autosize(area); updateMenu(); });
    area.addEventListener("keydown", (ev) => {
      if (ev.key === "Tab" && menu && !menu.hidden) {
        ev.preventDefault();
        const first = menu.querySelector(".command-item");
        if (first) first.click();
      } else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
        ev.preventDefault();
        form.requestSubmit();
      } else if (ev.key === "Escape" && menu) menu.hidden = true;
    });
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const text = area.value;
      if (!text.trim()) return;
      area.value = "";
      autosize(area);
      if (menu) menu.hidden = true;
      const ok = await send(text, getThread());
      if (!ok && !area.value) area.value = text;
    });
  }

  // ------------------------------------------------------------------ permalinks and mentions

  document.addEventListener("click", (ev) => {
    const link = ev.target.closest && ev.target.closest("a[data-goto-channel]");
    if (link) {
      ev.preventDefault();
      const channel = link.dataset.gotoChannel;
      if (!S.data.channels.some((c) => c.id === channel)) {
        toast(`${S.data.me.real_name} is not a member of that channel, so Slack would not show this message.`, "warn");
        return;
      }
      const thread = link.dataset.gotoThread || link.dataset.gotoTs;
      chooseChannel(channel, { thread });
      return;
    }
    const mention = ev.target.closest && ev.target.closest(".channel-mention[data-channel]");
    if (mention && S.data.channels.some((c) => c.id === mention.dataset.channel)) chooseChannel(mention.dataset.channel);
  });

  // ------------------------------------------------------------------ live updates

  function setLive(live) {
    S.live = live;
    const dot = $("live");
    if (dot) {
      dot.className = `live ${live ? "on" : "off"}`;
      dot.textContent = live ? "● live" : "○ reconnecting…";
    }
  }

  function connect() {
    const events = new EventSource("/sandbox/events");
    events.addEventListener("change", () => scheduleRefresh());
    events.addEventListener("open", () => { setLive(true); scheduleRefresh(0); });
    events.addEventListener("error", () => setLive(false));
  }

  function start() {
    const hash = new URLSearchParams(location.hash.slice(1));
    S.as = hash.get("as") || localStorage.getItem("sandbox.as") || null;
    S.channel = hash.get("c") || null;
    $("acting-as").addEventListener("change", (ev) => {
      localStorage.setItem("sandbox.as", ev.target.value);
      choosePerson(ev.target.value);
    });
    document.querySelector(".appbar").append(h("span", { id: "live", class: "live off", text: "○ connecting…" }));
    setupComposer($("composer"), $("composer-input"), () => null);
    setupComposer($("thread-composer"), $("thread-input"), () => S.thread);
    connect();
    refresh();
  }

  window.sandbox = { mrkdwn, formatDate, renderBlocks, state: S, refresh };
  start();
})();
