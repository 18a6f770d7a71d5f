// wiflab flow explorer: plain JavaScript, no framework, no build step, no network but its
// own origin. Every value shown comes from the explorer's /api (the Google side's journal
// and topology, relayed) and is put in the page as text, never as HTML.
"use strict";

(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const TIME_CLAIMS = ["iat", "exp", "nbf", "auth_time"];
  const state = {
    topology: null,
    entries: new Map(), // id -> entry
    lastId: 0,
    reveal: false,
    timings: {},
  };

  // -- small helpers ------------------------------------------------------------------------

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    for (const child of children.flat()) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  async function api(path, body) {
    const options = body === undefined ? {} : {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    };
    const response = await fetch(path, options);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      const error = (data && data.error) || {};
      const where = error.field ? error.field + ": " : "";
      throw new Error(where + (error.message || response.status + " " + response.statusText));
    }
    return data;
  }

  function looksLikeToken(text) {
    return typeof text === "string" &&
      (/^eyJ[\w-]+\./.test(text) || /^ya29\./.test(text) || /^Bearer\s+\S{20,}/.test(text));
  }

  // Tokens are hidden unless "Reveal tokens" is on; even then only what the journal holds
  // (already truncated by Google's side) is ever shown.
  function masked(value) {
    if (state.reveal) return value;
    if (typeof value === "string") return looksLikeToken(value) ? "\u2022\u2022\u2022 (token hidden)" : value;
    if (Array.isArray(value)) return value.map(masked);
    if (value && typeof value === "object") {
      const out = {};
      for (const [k, v] of Object.entries(value)) out[k] = masked(v);
      return out;
    }
    return value;
  }

  function pretty(value) {
    return JSON.stringify(masked(value), null, 2);
  }

  function relative(seconds) {
    const minutes = Math.round(Math.abs(seconds) / 60);
    const span = minutes >= 120 ? Math.round(minutes / 60) + " h" : minutes >= 1 ? minutes + " min" : Math.round(Math.abs(seconds)) + " s";
    return seconds >= 0 ? "in " + span : span + " ago";
  }

  function timeClaim(epoch) {
    if (typeof epoch !== "number" || !isFinite(epoch)) return String(epoch);
    const date = new Date(epoch * 1000);
    if (isNaN(date.getTime())) return String(epoch);
    const text = date.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
    return text + " (" + relative(epoch - Date.now() / 1000) + ")";
  }

  function short(text, max) {
    text = String(text);
    return text.length > max ? text.slice(0, max - 1) + "\u2026" : text;
  }

  function shortMember(member) {
    // principalSet://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/group/g
    const match = /workloadIdentityPools\/([^/]+)\/(.*)$/.exec(member);
    if (match) {
      const kind = member.startsWith("principalSet:") ? "principalSet" : "principal";
      return kind + ": " + match[1] + "/" + match[2];
    }
    return member;
  }

  // -- the topology diagram -----------------------------------------------------------------

  // Short names for the lines' labels (the boxes keep the full role).
  const ROLE_LABELS = {
    "roles/iam.workloadIdentityUser": "workload identity user",
    "roles/iam.serviceAccountTokenCreator": "token creator",
    "roles/iam.serviceAccountOpenIdTokenCreator": "ID token creator",
  };

  function poolOf(member) {
    const match = /workloadIdentityPools\/([^/]+)\//.exec(member);
    return match ? match[1] : null;
  }

  function invokers(doc, service) {
    const out = [];
    const policies = [service.policy, doc.policy];
    for (const policy of policies) {
      for (const binding of (policy && policy.bindings) || []) {
        if (binding.role === "roles/run.invoker" || binding.role === "roles/run.admin") {
          for (const member of binding.members) out.push(member);
        }
      }
    }
    return out;
  }

  // A long line is cut where it can be (after "/", ".", "@", " "), never hidden.
  function wrap(text, max) {
    const out = [];
    let rest = String(text);
    let indent = (/^\s*/.exec(rest) || [""])[0];
    while (rest.length > max) {
      let cut = -1;
      for (let i = max; i > max / 2; i--) {
        if ("/.@ =".includes(rest[i - 1])) { cut = i; break; }
      }
      if (cut < 0) cut = max;
      out.push(rest.slice(0, cut));
      rest = indent + "    " + rest.slice(cut).trimStart();
    }
    out.push(rest);
    return out;
  }

  function box(kind, x, y, width, title, lines, id) {
    // Projector mode: larger text (explorer.css), so fewer characters a line.
    const big = document.body.classList.contains("projector");
    const lineHeight = big ? 27 : 20;
    const titleHeight = big ? 29 : 22;
    const titles = wrap(title, big ? 26 : 36);
    const shown = [];
    for (const line of lines) for (const part of wrap(line.text, big ? 32 : 44)) shown.push({ text: part, small: line.small });
    const height = 14 + titles.length * titleHeight + shown.length * lineHeight;
    const group = svg("g", { class: kind, "data-name": title, id: id });
    group.append(svg("rect", { x: x, y: y, width: width, height: height, rx: 8, "stroke-width": 2 }));
    titles.forEach((part, i) => group.append(svg("text", { x: x + 10, y: y + 23 + i * titleHeight, class: "node-title" }, part)));
    const top = y + 23 + titles.length * titleHeight;
    shown.forEach((line, i) => {
      group.append(svg("text", { x: x + 14, y: top + i * lineHeight, class: line.small ? "small" : "", "xml:space": "preserve" }, line.text));
    });
    return { group: group, height: height };
  }

  function renderDiagram(doc) {
    const started = performance.now();
    const column = 360, gap = 170, width = 40 + 3 * column + 2 * gap;
    const xs = [20, 20 + column + gap, 20 + 2 * (column + gap)];
    const root = svg("svg", { viewBox: "0 0 " + width + " 100", role: "img", "aria-label": "the topology in force" });
    const edges = svg("g", {});
    root.append(edges);
    const heads = ["Pools and providers", "Service accounts", "Cloud Run services"];
    heads.forEach((head, i) => root.append(svg("text", { x: xs[i], y: 24, class: "node-title" }, head)));
    const anchors = { pool: {}, sa: {}, svc: {} };
    let y = 40;
    for (const pool of doc.pools || []) {
      const lines = [];
      if (pool.disabled) lines.push({ text: "disabled", small: true });
      for (const provider of pool.providers || []) {
        lines.push({ text: "provider " + provider.id + (provider.disabled ? " (disabled)" : "") });
        for (const [target, source] of Object.entries(provider.attributeMapping || {})) {
          lines.push({ text: "  " + target + " = " + source, small: true });
        }
        lines.push({ text: "  condition: " + (provider.attributeCondition || "none"), small: true });
      }
      const b = box("pool", xs[0], y, column, "pool " + pool.id, lines, "pool-" + pool.id);
      root.append(b.group);
      anchors.pool[pool.id] = { x: xs[0] + column, y: y + 20 };
      y += b.height + 16;
    }
    let height = y;
    y = 40;
    for (const account of doc.serviceAccounts || []) {
      const lines = [];
      if (account.disabled) lines.push({ text: "disabled", small: true });
      for (const binding of (account.policy && account.policy.bindings) || []) {
        lines.push({ text: binding.role.replace("roles/", "") });
        for (const member of binding.members) lines.push({ text: "  " + shortMember(member), small: true });
      }
      if (!lines.length) lines.push({ text: "no bindings", small: true });
      const b = box("sa", xs[1], y, column, account.email, lines, "sa-" + account.email);
      root.append(b.group);
      anchors.sa[account.email] = { x: xs[1], y: y + 20, right: xs[1] + column };
      const roles = new Map(); // pool -> the roles its principals hold on this account
      for (const binding of (account.policy && account.policy.bindings) || []) {
        for (const member of binding.members) {
          const pool = poolOf(member);
          if (pool && anchors.pool[pool]) {
            if (!roles.has(pool)) roles.set(pool, new Set());
            roles.get(pool).add(ROLE_LABELS[binding.role] || binding.role.replace("roles/", ""));
          }
        }
      }
      for (const [pool, held] of roles) {
        edges.append(line(anchors.pool[pool], { x: xs[1], y: y + 20 }, [...held].join(", ")));
      }
      y += b.height + 16;
    }
    height = Math.max(height, y);
    y = 40;
    for (const service of doc.services || []) {
      const lines = [];
      if (service.allowUnauthenticated) lines.push({ text: "public (allowUnauthenticated)" });
      const members = invokers(doc, service);
      lines.push({ text: "invokers:" });
      for (const member of members) lines.push({ text: "  " + member, small: true });
      if (!members.length) lines.push({ text: "  none", small: true });
      const b = box("svc", xs[2], y, column, service.name, lines, "svc-" + service.name);
      root.append(b.group);
      for (const member of members) {
        const email = member.replace(/^serviceAccount:/, "");
        const from = anchors.sa[email];
        if (from) edges.append(line({ x: from.right, y: from.y }, { x: xs[2], y: y + 20 }, "run.invoker"));
      }
      y += b.height + 16;
    }
    height = Math.max(height, y) + 10;
    root.setAttribute("viewBox", "0 0 " + width + " " + height);
    const holder = document.getElementById("diagram");
    holder.replaceChildren(root);
    void holder.offsetHeight; // layout included
    state.timings.topology_ms = performance.now() - started;
    return state.timings.topology_ms;
  }

  function line(from, to, label) {
    const mid = (from.x + to.x) / 2;
    const group = svg("g", {});
    group.append(svg("path", { class: "edge", d: "M" + from.x + "," + from.y + " C" + mid + "," + from.y + " " + mid + "," + to.y + " " + to.x + "," + to.y }));
    group.append(svg("text", { class: "edge-label", x: to.x - 4, y: to.y - 5, "text-anchor": "end" }, label));
    return group;
  }

  // -- Try it and Break it results ----------------------------------------------------------

  function renderChecksShown(checks) {
    if (!checks || !checks.length) return null;
    return el("table", { class: "checks" },
      checks.map((c) => el("tr", {},
        el("td", { class: c.passed ? "pass" : "fail" }, c.passed ? "\u2714 pass" : "\u2718 fail"),
        el("td", {}, c.rule),
        el("td", {}, c.passed ? c.text : el("mark", {}, c.text)))));
  }

  function renderTokenShown(token) {
    return el("div", { class: "token" },
      el("strong", {}, token.name),
      claimsTable(token.claims));
  }

  function claimsTable(claims) {
    return el("table", { class: "checks claims" },
      Object.entries(claims || {}).map(([name, value]) => el("tr", {},
        el("td", {}, name),
        el("td", {}, TIME_CLAIMS.includes(name) ? timeClaim(value) : JSON.stringify(masked(value))))));
  }

  function renderRun(result, holder) {
    holder.replaceChildren();
    if (result.exercise) {
      holder.append(el("h3", {}, result.exercise.title), el("p", {}, result.exercise.lesson));
    }
    const failed = (result.steps || []).find((s) => !s.ok);
    if (failed) {
      const error = failed.error || {};
      holder.append(el("div", { class: "outcome bad", "data-outcome": "refused" },
        el("strong", {}, "Step " + failed.number + " refused: " + failed.title),
        el("div", { class: "google-error" }, "Google: " + [error.status, error.code].filter(Boolean).join(" ") + "\n" + (error.message || ""))));
      const hint = journalHint(result.journal);
      if (hint) holder.append(hint);
      if ((failed.hints || []).length) {
        holder.append(el("div", { class: "hint" }, el("strong", {}, "What to check:"),
          el("ul", {}, failed.hints.map((text) => el("li", {}, text)))));
      }
    } else {
      const dump = result.dump || {};
      holder.append(el("div", { class: "outcome ok", "data-outcome": "allowed" },
        el("strong", {}, "The whole chain passed."),
        " The service saw " + (dump.email || dump.sub || "the caller") + " (verified: " + dump.verified + ")."));
    }
    const list = el("ol", { class: "steps" });
    for (const step of result.steps || []) {
      const status = step.response ? step.response.status : "";
      list.append(el("li", {},
        el("span", { class: step.ok ? "pass" : "fail" }, step.ok ? "\u2714 " : "\u2718 "),
        step.title + (status ? " \u2192 " + status : ""),
        renderChecksShown(step.decision),
        (step.tokens || []).map(renderTokenShown)));
    }
    holder.append(list);
  }

  function journalHint(entries) {
    const refused = (entries || []).filter((e) => e.outcome === "refused" && e.hint);
    if (!refused.length) return null;
    const hint = refused[refused.length - 1].hint;
    return el("div", { class: "hint", "data-hint": "journal" },
      el("strong", {}, "Why: "), hint.nearest_miss || "",
      hint.check && hint.check.length ? el("div", {}, "Check: " + hint.check.join("; ")) : null,
      hint.doc ? el("div", {}, el("a", { href: hint.doc, target: "_blank", rel: "noreferrer" }, "Google's troubleshooting")) : null);
  }

  // -- the timeline -------------------------------------------------------------------------

  function entrySummary(entry) {
    const mark = entry.outcome === "allowed" ? el("span", { class: "pass" }, "\u2714") : el("span", { class: "fail" }, "\u2718");
    return el("summary", {}, mark, " ",
      (entry.step ? entry.step + ". " : "") + entry.service + " " + entry.method + " " + short(entry.path || "", 70) +
      " \u2192 " + entry.status + " " + entry.outcome + (entry.action ? " (" + entry.action + ")" : ""),
      el("span", { class: "muted" }, "  " + (entry.time || "")));
  }

  function entryDetails(entry) {
    const parts = [];
    if (entry.refusal) {
      parts.push(el("div", { class: "outcome bad" }, el("div", { class: "google-error" },
        "Google: " + entry.refusal.status + " " + entry.refusal.code + "\n" + entry.refusal.text)));
    }
    if (entry.hint) parts.push(journalHint([entry]));
    if (entry.principal) parts.push(el("p", {}, "Principal: ", el("code", {}, entry.principal)));
    parts.push(el("h4", {}, "Request"), el("pre", {}, pretty(entry.request || {})));
    for (const [name, token] of Object.entries(entry.tokens || {})) {
      parts.push(el("div", { class: "token" },
        el("strong", {}, name),
        el("div", {}, state.reveal ? el("code", {}, token.preview || "") : el("span", { class: "redacted" }, "token hidden (Reveal tokens shows the journal's truncated copy)")),
        el("div", {}, "header: ", el("code", {}, JSON.stringify(token.header || {}))),
        claimsTable(token.claims)));
    }
    const highlighted = new Set((entry.hint && entry.hint.check) || []);
    const checks = entry.checks || [];
    if (checks.length) {
      parts.push(el("h4", {}, "Checks"), el("table", { class: "checks" },
        el("tr", {}, el("th", {}, ""), el("th", {}, "check"), el("th", {}, "expected"), el("th", {}, "actual"), el("th", {}, "")),
        checks.map((c) => {
          const matters = !c.passed || highlighted.has(c.name);
          const value = (v) => v === undefined ? "" : JSON.stringify(masked(v));
          return el("tr", { class: c.passed ? "" : "failed" },
            el("td", { class: c.passed ? "pass" : "fail" }, c.passed ? "\u2714 pass" : "\u2718 fail"),
            el("td", {}, c.name),
            el("td", {}, value(c.expected)),
            el("td", {}, matters && c.actual !== undefined ? el("mark", {}, value(c.actual)) : value(c.actual)),
            el("td", {}, c.detail || ""));
        })));
    }
    return parts;
  }

  function chainKey(entry) {
    return entry.chain ? "chain:" + entry.chain : "single:" + entry.id;
  }

  const chains = new Map(); // key -> {node, list, number}

  function chainBlock(entry, fresh) {
    const key = chainKey(entry);
    let block = chains.get(key);
    if (!block) {
      const number = chains.size + 1;
      const list = el("div", {});
      const node = el("div", { class: "chain", "data-chain": entry.chain || "" },
        el("h3", {}, (entry.chain ? "Chain " + number : "Request " + number) + (entry.principal ? " \u2014 " + entry.principal : "")),
        list);
      block = { node: node, list: list, number: number };
      chains.set(key, block);
      fresh.push(node);
    }
    return block;
  }

  function addEntries(entries, timeline) {
    timeline = timeline || document.getElementById("timeline");
    const fresh = [];
    for (const entry of entries) {
      if (!entry || typeof entry.id !== "number" || state.entries.has(entry.id)) continue;
      state.entries.set(entry.id, entry);
      state.lastId = Math.max(state.lastId, entry.id);
      fresh.push(entry);
    }
    fresh.sort((a, b) => a.id - b.id);
    const newChains = [];
    for (const entry of fresh) {
      const block = chainBlock(entry, newChains);
      const details = el("details", { class: "step " + entry.outcome, "data-entry": entry.id }, entrySummary(entry));
      details.addEventListener("toggle", () => {
        if (details.open && details.children.length === 1) details.append(...entryDetails(entry));
      }, { once: false });
      block.list.append(details);
    }
    // Newest first, attached in one go.
    timeline.prepend(...newChains.reverse());
    return fresh.length;
  }

  function rerenderTimeline() {
    const timeline = document.getElementById("timeline");
    const open = new Set([...timeline.querySelectorAll("details[open]")].map((d) => d.dataset.entry));
    const entries = [...state.entries.values()];
    state.entries.clear();
    chains.clear();
    timeline.replaceChildren();
    addEntries(entries, timeline);
    for (const id of open) {
      const details = timeline.querySelector('details[data-entry="' + id + '"]');
      if (details) details.open = true;
    }
  }

  async function loadJournal() {
    const status = document.getElementById("journal-status");
    try {
      const page = await api("/api/journal");
      if (page.unavailable) status.textContent = "(" + page.unavailable + ")";
      addEntries(page.entries || []);
      follow(typeof page.next === "number" ? page.next : state.lastId);
    } catch (error) {
      status.textContent = "(journal: " + error.message + ")";
    }
  }

  function follow(since) {
    if (!window.EventSource) return;
    const source = new EventSource("/api/journal/stream?lastEventId=" + encodeURIComponent(since));
    source.addEventListener("entry", (event) => {
      try { addEntries([JSON.parse(event.data)]); } catch (e) { /* a broken event is skipped */ }
    });
  }

  // -- wiring -------------------------------------------------------------------------------

  function profiles() {
    return (state.topology && state.topology.idp && state.topology.idp.profiles) || {};
  }

  function fillProfiles() {
    const select = document.getElementById("profile");
    const current = select.value;
    select.replaceChildren(...Object.keys(profiles()).map((name) => el("option", { value: name }, name)));
    if (current && profiles()[current]) select.value = current;
    showClaims();
  }

  function showClaims() {
    const name = document.getElementById("profile").value;
    document.getElementById("claims").value = JSON.stringify(profiles()[name] || {}, null, 2);
  }

  async function loadTopology() {
    try {
      state.topology = await api("/api/topology");
      document.getElementById("project").textContent = "project " + state.topology.project.id + " (" + state.topology.project.number + ")";
      renderDiagram(state.topology);
      if (!document.getElementById("profile").options.length) fillProfiles();
    } catch (error) {
      document.getElementById("diagram").replaceChildren(el("p", { class: "fail" }, "The topology could not be read: " + error.message));
    }
  }

  async function busy(button, work) {
    const buttons = document.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try { await work(); } finally { buttons.forEach((b) => { b.disabled = false; }); }
  }

  async function runTry() {
    const holder = document.getElementById("try-result");
    let claims;
    try {
      claims = JSON.parse(document.getElementById("claims").value);
    } catch (error) {
      holder.replaceChildren(el("div", { class: "outcome bad" }, "claims: not valid JSON (" + error.message + ")"));
      return;
    }
    holder.replaceChildren(el("p", { class: "muted" }, "Running the chain\u2026"));
    try {
      const result = await api("/api/try", { profile: document.getElementById("profile").value, claims: claims });
      renderRun(result, holder);
      addEntries(result.journal || []);
    } catch (error) {
      holder.replaceChildren(el("div", { class: "outcome bad" }, error.message));
    }
  }

  async function runBreak(exercise) {
    const holder = document.getElementById("break-result");
    holder.replaceChildren(el("p", { class: "muted" }, "Breaking it: " + exercise.title + "\u2026"));
    try {
      const result = await api("/api/break/" + encodeURIComponent(exercise.key), { profile: document.getElementById("profile").value });
      renderRun(result, holder);
      addEntries(result.journal || []);
    } catch (error) {
      holder.replaceChildren(el("div", { class: "outcome bad" }, error.message));
    }
    await loadTopology();
  }

  async function restore() {
    const status = document.getElementById("restore-status");
    try {
      await api("/api/restore", {});
      status.textContent = "The start-up topology is in force again.";
    } catch (error) {
      status.textContent = "Restore failed: " + error.message;
    }
    await loadTopology();
  }

  async function loadExercises() {
    const holder = document.getElementById("exercises");
    const data = await api("/api/exercises");
    holder.replaceChildren(...data.exercises.map((exercise) => el("button", {
      type: "button",
      class: "exercise",
      "data-exercise": exercise.key,
      title: exercise.lesson,
      onclick: (event) => busy(event.target, () => runBreak(exercise)),
    }, exercise.title)));
  }

  function init() {
    const projector = document.getElementById("projector");
    projector.checked = /projector/.test(location.hash);
    document.body.classList.toggle("projector", projector.checked);
    projector.addEventListener("change", () => {
      document.body.classList.toggle("projector", projector.checked);
      if (state.topology) renderDiagram(state.topology);
    });
    document.getElementById("reveal").addEventListener("change", (event) => {
      state.reveal = event.target.checked;
      rerenderTimeline();
    });
    document.getElementById("profile").addEventListener("change", showClaims);
    document.getElementById("run").addEventListener("click", (event) => busy(event.target, runTry));
    document.getElementById("restore").addEventListener("click", (event) => busy(event.target, restore));
    loadTopology();
    loadExercises();
    loadJournal();
  }

  // For the browser tests and bench/explorer.py: render given entries or a topology into the
  // page and say how long it took (performance.now(), milliseconds).
  window.wiflabExplorer = {
    timings: state.timings,
    renderEntries(entries) {
      const started = performance.now();
      addEntries(entries);
      void document.getElementById("timeline").offsetHeight; // layout included
      state.timings.timeline_ms = performance.now() - started;
      state.timings.entries = entries.length;
      return state.timings.timeline_ms;
    },
    renderTopology(doc) { return renderDiagram(doc); },
    entryCount() { return state.entries.size; },
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
