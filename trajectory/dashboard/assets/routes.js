// The routes page: one fact's route graph at a revision (data: #routes-data, written by
// trajectory/dashboard/routes_page.py). Everything runs in the page; a page served by `trajectory serve`
// also fetches the revisions it does not embed.
(function () {
  const data = JSON.parse(document.getElementById("routes-data").textContent);
  const served = location.protocol.startsWith("http");
  const cache = new Map(Object.entries(data.edges));
  const byId = new Map(data.facts.map((f) => [f.id, f]));
  const factSelect = document.getElementById("fact");
  const search = document.getElementById("search");
  const revision = document.getElementById("revision");
  const threshold = document.getElementById("threshold");
  const status = document.getElementById("status");
  const reachable = served ? data.revisions.map((_, i) => i) : data.embedded;  // slider positions -> ordinals
  const KIND_COLOUR = { attention: "#0072B2", block_attention: "#0072B2", ffn: "#E69F00", block_ffn: "#E69F00", ffn_residual: "#999999" };

  function fillFacts(filter) {
    const words = filter.trim().toLowerCase();
    factSelect.innerHTML = "";
    const groups = new Map();
    for (const f of data.facts) {
      const text = `${f.subject} → ${f.answer}`;
      if (words && !(`${text} ${f.relation}`.toLowerCase().includes(words))) continue;
      if (!groups.has(f.relation)) {
        const group = document.createElement("optgroup");
        group.label = f.relation.replaceAll("_", " ");
        groups.set(f.relation, group);
        factSelect.appendChild(group);
      }
      const option = document.createElement("option");
      option.value = f.id;
      option.textContent = text;
      groups.get(f.relation).appendChild(option);
    }
  }

  async function edgesOf(fact, ordinal) {
    const key = `${fact}|${data.revisions[ordinal]}`;
    if (cache.has(key)) return cache.get(key);
    if (!served) return null;
    const response = await fetch(`/api/routes/${encodeURIComponent(data.analysis_id)}/${fact}/${ordinal}`);
    if (!response.ok) throw new Error(await response.text());
    const edges = await response.json();
    cache.set(key, edges);
    return edges;
  }

  // Node positions: x = token, y = 0 for the embeddings, 2l + 1 after layer l's attention, 2l + 2 after its FFN.
  function nodeY(kind, layer) { return kind === "X" ? 0 : kind === "A" ? 2 * layer + 1 : 2 * layer + 2; }

  function edgeEnds(e) {
    const from = e.layer === 0 ? ["X", -1, e.source] : ["I", e.layer - 1, e.source];
    if (e.kind === "attention") return [from, ["A", e.layer, e.target]];
    if (e.kind === "block_attention") return [from, ["I", e.layer, e.target]];
    if (e.kind === "block_ffn") return [e.layer === 0 ? ["X", -1, e.target] : ["I", e.layer - 1, e.target], ["I", e.layer, e.target]];
    return [["A", e.layer, e.target], ["I", e.layer, e.target]];  // ffn and ffn_residual
  }

  // The edges above the threshold that still reach the root ("I", L − 1, root): a walk back from the root.
  function visibleEdges(raw, fact, cut) {
    if (!raw) return [];
    const all = raw.layer.map((layer, i) => ({
      layer, kind: raw.kind[i], source: raw.source[i], target: raw.target[i], weight: raw.weight[i] / 1e6,
      residual: raw.residual[i] / 1e6, heads: raw.heads[i],
    })).filter((e) => e.weight > cut);
    const into = new Map();
    for (const e of all) {
      const [, to] = edgeEnds(e);
      const key = to.join("/");
      if (!into.has(key)) into.set(key, []);
      into.get(key).push(e);
    }
    const seen = new Set([["I", data.layers - 1, fact.root].join("/")]);
    const stack = [...seen];
    const kept = [];
    while (stack.length) {
      const node = stack.pop();
      for (const e of into.get(node) || []) {
        kept.push(e);
        const from = edgeEnds(e)[0].join("/");
        if (!seen.has(from)) { seen.add(from); stack.push(from); }
      }
    }
    return kept;
  }

  // What a click on an edge shows: the block it crosses at its target (the FFN's residual edge: the node it enters).
  function blockKey(e) {
    const block = e.kind === "attention" || e.kind === "block_attention" ? "attn" : e.kind === "ffn_residual" ? "I" : "ffn";
    return `${block}/${e.layer}/${e.target}`;
  }

  // The node lens: a click on a node (the residual stream there) or an edge (what its block writes) lists the top
  // tokens of that state read through the final norm and unembedding, as llm-transparency-tool does.
  const lensPanel = document.getElementById("node-lens");
  let shownLens = null;  // the drawn revision's node lens: "<node>/<layer>/<position>" -> [tokens, probabilities]
  function describeKey(key, tokens) {
    const [node, layer, pos] = key.split("/");
    const what = { X: "the embedding", A: `the residual stream after layer ${layer}'s attention`, I: `the residual stream after layer ${layer}`,
                   attn: `what layer ${layer}'s attention writes`, ffn: `what layer ${layer}'s FFN writes` }[node];
    return `${what} at ${JSON.stringify(tokens[Number(pos)])} (position ${pos})`;
  }
  function showLens(key, tokens) {
    const entry = shownLens && shownLens[key];
    const said = own ? "the node lens is computed for the probe facts only" : !shownLens ? (served ? "no node lens stored for this revision (re-ingest with store.routes on)"
      : "this file embeds the node lens of " + data.lens_embedded.length + " of the " + data.revisions.length +
        " revisions; `trajectory serve` reaches every one") : !entry ? "not stored for this node" :
      "top tokens: " + entry[0].map((t, i) => `${JSON.stringify(t)} ${(100 * entry[1][i]).toFixed(1)} %`).join(", ");
    lensPanel.textContent = `${describeKey(key, tokens)}: ${said}`;
    window.lensShown = { key, entry: entry || null };  // for tests and the console
  }
  function listenForClicks(tokens) {  // after every drawing: Plotly.purge (no fact matches a search) drops listeners
    const graph = document.getElementById("graph");
    graph.tokens = tokens;
    graph.removeAllListeners("plotly_click");
    graph.on("plotly_click", (event) => {
      const point = event.points[0];
      if (point && point.customdata && (point.data.name === "nodes" || point.data.name === "edges")) showLens(point.customdata, graph.tokens);
    });
  }

  const bandOf = (weight) => Math.min(5, Math.max(1, Math.ceil(5 * weight)));
  const widthOf = (band) => 0.8 + 1.6 * band;

  // The threshold slider is logarithmic (τ to 1 over THRESHOLD_STEPS positions): the thresholds that matter sit near τ.
  const THRESHOLD_STEPS = 200;
  const lowest = Math.max(data.tau, 1e-4);
  const cutAt = (position) => (position <= 0 ? data.tau : lowest * Math.pow(1 / lowest, position / THRESHOLD_STEPS));
  const positionOf = (cut) => (cut <= lowest ? 0 : Math.round((THRESHOLD_STEPS * Math.log(cut / lowest)) / Math.log(1 / lowest)));

  function graphFigure(fact, edges, ordinal) {
    const traces = [];
    // One trace per (kind, width band): plotly draws a trace's lines at one width. The bands are absolute (a fifth of
    // the weight's range each), so that widths compare across revisions and facts; the legend gives them.
    const bands = new Map();
    const hover = { x: [], y: [], text: [], key: [] };
    for (const e of edges) {
      const [from, to] = edgeEnds(e);
      const offset = e.kind === "ffn" || e.kind === "block_ffn" ? 0.12 : e.kind === "ffn_residual" ? -0.12 : 0;
      const x0 = from[2], y0 = nodeY(from[0], from[1]), x1 = to[2] + (from[2] === to[2] ? offset : 0), y1 = nodeY(to[0], to[1]);
      const band = bandOf(e.weight);
      const key = `${e.kind}|${band}`;
      if (!bands.has(key)) bands.set(key, { x: [], y: [], kind: e.kind, band });
      const b = bands.get(key);
      b.x.push(x0, x1, null);
      b.y.push(y0, y1, null);
      hover.x.push((x0 + x1) / 2);
      hover.y.push((y0 + y1) / 2);
      const heads = e.heads ? "<br>heads (contribution): " + e.heads.split(" ").map((p) => { const [h, w] = p.split(":"); return `${h} (${w})`; }).join(", ") : "";
      const residual = e.residual > 0 ? ` (residual ${e.residual.toFixed(3)})` : "";
      hover.key.push(blockKey(e));
      hover.text.push(`layer ${e.layer} ${e.kind.replace("_", " ")}: ${JSON.stringify(fact.tokens[e.source])} → ` +
                      `${JSON.stringify(fact.tokens[e.target])}<br>weight ${e.weight.toFixed(3)}${residual}${heads}`);
    }
    for (const b of [...bands.values()].sort((p, q) => p.band - q.band)) {
      traces.push({ type: "scatter", mode: "lines", x: b.x, y: b.y, hoverinfo: "skip", showlegend: false,
                    line: { color: KIND_COLOUR[b.kind] || "#444", width: widthOf(b.band) }, opacity: 0.75 });
    }
    traces.push({ type: "scatter", mode: "markers", x: hover.x, y: hover.y, text: hover.text, hoverinfo: "text", customdata: hover.key,
                  marker: { size: 9, color: "rgba(0,0,0,0)" }, showlegend: false, name: "edges" });
    for (let band = 1; band <= 5; band++) {  // the width legend: one entry per band
      traces.push({ type: "scatter", mode: "lines", x: [null], y: [null], hoverinfo: "skip", showlegend: true,
                    name: `weight ${((band - 1) / 5).toFixed(1)}–${(band / 5).toFixed(1)}`, line: { color: "#666", width: widthOf(band) } });
    }
    // Nodes that the kept edges touch, and the answer above the root.
    const nodes = new Map();
    for (const e of edges) for (const end of edgeEnds(e)) nodes.set(end.join("/"), end);
    const nx = [], ny = [], nt = [], nk = [];
    for (const [kind, layer, pos] of nodes.values()) {
      nx.push(pos); ny.push(nodeY(kind, layer)); nk.push(`${kind}/${layer}/${pos}`);
      nt.push(`${kind === "X" ? "embedding" : kind === "A" ? `layer ${layer}, after attention` : `layer ${layer}, after the FFN`}: ${JSON.stringify(fact.tokens[pos])}`);
    }
    traces.push({ type: "scatter", mode: "markers", x: nx, y: ny, text: nt, customdata: nk, hoverinfo: "text", showlegend: false,
                  marker: { size: 8, color: "#ffffff", line: { color: "#333", width: 1.2 } }, name: "nodes" });
    const rank = fact.rank[ordinal];
    const top = nodeY("I", data.layers - 1);
    traces.push({ type: "scatter", mode: "text", x: [fact.root], y: [top + 0.8], showlegend: false, hoverinfo: "skip",
                  textposition: "middle left",
                  text: [`→ ${fact.answer}${rank === null || rank === undefined ? "" : ` (rank ${rank + 1})`}`],
                  textfont: { size: 14, color: rank === 0 ? "#009E73" : "#D55E00" } });
    const rows = [0];
    const labels = ["embeddings"];
    for (let l = 0; l < data.layers; l++) { rows.push(2 * l + 1, 2 * l + 2); labels.push(`L${l} attn`, `L${l} FFN`); }
    return {
      data: traces,
      layout: {
        margin: { l: 80, r: 20, t: 40, b: 90 }, hovermode: "closest", plot_bgcolor: "#ffffff",
        legend: { title: { text: "edge width" }, x: 1, xanchor: "right", y: 1, bgcolor: "rgba(255,255,255,0.8)" },
        title: { text: `${fact.subject} → ${fact.answer} at ${data.revisions[ordinal]}: ${edges.length} edges`, x: 0, font: { size: 15 } },
        xaxis: { tickvals: fact.tokens.map((_, i) => i), ticktext: fact.tokens.map((t) => t.replaceAll(" ", "·")), tickangle: -40,
                 range: [-0.6, fact.tokens.length - 0.4], showgrid: false, zeroline: false, title: { text: "prompt token" } },
        yaxis: { tickvals: rows, ticktext: labels, range: [-0.6, top + 1.8], showgrid: true, gridcolor: "#eee", zeroline: false },
      },
    };
  }

  // A rank axis (log scale): labels at 1, 2, 5, 10, 20, 50 ... written out in full (plotly's own minor labels on a
  // log axis read "10, 2, 5, 100"); every 1 ... 9 of a decade where fewer than two of those fall in the data's range.
  function rankAxis(values, title) {
    const shown = values.filter((v) => v !== null && v !== undefined && v > 0);
    const low = Math.min(...shown, 1e9) / 1.2, high = Math.max(1, ...shown) * 1.2;
    const grid = (steps) => { const out = []; for (let d = 1; d <= high; d *= 10) for (const m of steps) if (m * d <= high) out.push(m * d); return out; };
    let ticks = grid([1, 2, 5]);
    if (ticks.filter((t) => t >= low).length < 2) ticks = grid([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    return { type: "log", tickmode: "array", tickvals: ticks, ticktext: ticks.map(String), title: { text: title }, autorange: "reversed" };
  }

  function rankFigure(fact, ordinal) {
    const ranks = fact.rank.map((r) => (r === null ? null : r + 1));
    return {
      data: [
        { type: "scatter", mode: "lines+markers", x: data.steps, y: ranks, name: "answer", marker: { size: 4 }, line: { color: "#0072B2" },
          customdata: data.revisions, hovertemplate: "%{customdata}: rank %{y} (1 = top-1)<extra></extra>" },
        { type: "scatter", mode: "markers", x: [data.steps[ordinal]], y: [ranks[ordinal]], name: data.revisions[ordinal],
          marker: { size: 13, color: "#D55E00", symbol: "diamond" }, hovertemplate: "shown: %{y}<extra></extra>" },
      ],
      layout: { modebar: { orientation: "v" }, margin: { l: 50, r: 10, t: 36, b: 40 }, showlegend: false, title: { text: "the answer's rank over training", x: 0, font: { size: 13 } },
                xaxis: { title: { text: "training step" } }, yaxis: rankAxis(ranks, "rank (1 = top-1)") },
    };
  }

  function lensFigure(fact, ordinal) {
    const last = fact.lens_last[ordinal] || [], subject = fact.lens_subject[ordinal] || [];
    const layers = last.map((_, i) => i);
    const line = (values, name, colour) => ({ type: "scatter", mode: "lines+markers", x: layers, y: values.map((r) => r + 1), name,
      line: { color: colour }, hovertemplate: `${name}, layer %{x}: rank %{y}<extra></extra>` });
    return {
      data: [line(last, "last token", "#0072B2"), line(subject, "subject (best token)", "#E69F00")],
      layout: { modebar: { orientation: "v" }, margin: { l: 50, r: 10, t: 36, b: 40 }, title: { text: `logit lens at ${data.revisions[ordinal]}`, x: 0, font: { size: 13 } },
                legend: { orientation: "h", y: -0.25 }, xaxis: { title: { text: "after layer" }, dtick: 1 },
                yaxis: rankAxis([...last, ...subject].map((r) => r + 1), "answer's rank (1 = top-1)") },
    };
  }

  function rolesFigure(fact, ordinal) {
    const grid = (data.role_grid[fact.relation] || {})[String(ordinal)];
    const n = data.roles.length;
    const scale = [];
    data.role_colours.forEach((c, i) => { scale.push([i / n, c], [(i + 1) / n, c]); });
    const z = grid || Array.from({ length: data.layers }, () => Array(data.heads + 1).fill(n - 1));
    return {
      data: [{ type: "heatmap", z, zmin: -0.5, zmax: n - 0.5, colorscale: scale, showscale: false, xgap: 1, ygap: 1,
               x: [...Array(data.heads).keys()].map((h) => `h${h}`).concat(["FFN"]), y: [...Array(data.layers).keys()].map((l) => `L${l}`),
               customdata: z.map((row) => row.map((code) => data.roles[code])),
               hovertemplate: "%{y} %{x}: %{customdata}<extra></extra>" }],
      layout: { modebar: { orientation: "v" }, margin: { l: 40, r: 10, t: 36, b: 60 }, title: { text: `roles for ${fact.relation.replaceAll("_", " ")}`, x: 0, font: { size: 13 } },
                annotations: data.roles.map((r, i) => ({ text: r, x: i / (n - 1), y: -0.24, xref: "paper", yref: "paper", showarrow: false,
                                                          font: { color: data.role_colours[i], size: 11 } })) },
    };
  }

  async function drawOwn() {
    const cut = cutAt(Number(threshold.value));
    document.getElementById("threshold-label").textContent = cut.toFixed(3);
    const edges = visibleEdges(own.raw, own.fact, cut);
    const fig = graphFigure(own.fact, edges, own.ordinal);
    fig.layout.title.text = `your prompt at ${data.revisions[own.ordinal]}: ${edges.length} edges; top next tokens ` +
      own.top.map(([t, p]) => `${JSON.stringify(t)} ${(100 * p).toFixed(1)} %`).join(", ");
    status.textContent = `${edges.length} of ${own.raw.layer.length} traced edges above ${cut.toFixed(3)} reach the last token`;
    window.routesShown = { fact: null, revision: data.revisions[own.ordinal], threshold: cut, edges };
    await Plotly.react("graph", fig.data, fig.layout, { displaylogo: false, responsive: true });
    shownLens = null;  // not computed for a prompt of one's own
    lensPanel.textContent = "";
    listenForClicks(own.fact.tokens);
  }

  let drawing = 0;
  async function draw() {
    if (own) return reachable[Number(revision.value)] === own.ordinal ? drawOwn() : traceOwn(own.prompt);
    const ticket = ++drawing;
    // An empty list (nothing matches the search) has the value "": no fact, not Number("") = fact 0.
    const fact = factSelect.value === "" ? undefined : byId.get(Number(factSelect.value));
    if (!fact) {
      status.textContent = "no fact matches the search";
      window.routesShown = { fact: null, revision: null, threshold: null, edges: [] };
      Plotly.purge("graph");
      return;
    }
    const ordinal = reachable[Number(revision.value)];
    const cut = cutAt(Number(threshold.value));
    document.getElementById("revision-label").textContent = `${data.revisions[ordinal]} (step ${data.steps[ordinal]})`;
    document.getElementById("threshold-label").textContent = cut.toFixed(3);
    let raw;
    try { raw = await edgesOf(fact.id, ordinal); } catch (err) { status.textContent = `could not load the edges: ${err.message}`; return; }
    if (ticket !== drawing) return;  // a newer choice was made meanwhile
    const edges = visibleEdges(raw, fact, cut);
    status.textContent = raw ? `${edges.length} of ${raw.layer.length} stored edges above ${cut.toFixed(3)} reach the answer` :
      "this revision's edges are not embedded in this file; `trajectory serve` loads every revision";
    const config = { displaylogo: false, responsive: true };
    window.routesShown = { fact: fact.id, revision: data.revisions[ordinal], threshold: cut, edges };  // for tests and the console
    history.replaceState(null, "", location.pathname + location.search +
      `#view:fact=${fact.id}&revision=${encodeURIComponent(data.revisions[ordinal])}&threshold=${cut}`);
    const figures = { graph: graphFigure(fact, edges, ordinal), rank: rankFigure(fact, ordinal), lens: lensFigure(fact, ordinal),
                      roles: rolesFigure(fact, ordinal) };
    await Promise.all(Object.entries(figures).map(([id, fig]) => Plotly.react(id, fig.data, fig.layout, config)));
    shownLens = raw && raw.lens ? raw.lens : null;
    lensPanel.textContent = "Click a node or an edge of the graph: what it says under the logit lens.";
    listenForClicks(fact.tokens);
  }

  // Your own prompt (served pages only): the server traces it at the revision shown and answers with its graph.
  let own = null;  // {fact-like prompt, edges} while an own prompt is shown
  const ownForm = document.getElementById("own");
  if (served) ownForm.style.display = "block";
  // The prompt is traced at the revision the slider shows, again whenever the slider moves.
  let tracing = 0;
  async function traceOwn(prompt) {
    const ticket = ++tracing;  // while the slider is dragged, only the last position's trace is drawn
    const ordinal = reachable[Number(revision.value)];
    document.getElementById("revision-label").textContent = `${data.revisions[ordinal]} (step ${data.steps[ordinal]})`;
    status.textContent = `tracing at ${data.revisions[ordinal]} …`;
    try {
      const response = await fetch("/api/trace", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ analysis: data.analysis_id, revision: data.revisions[ordinal], prompt }) });
      const answer = await response.json();
      if (ticket !== tracing) return;  // a later position was asked for meanwhile
      if (!response.ok) { status.textContent = `error: ${answer.error}`; return; }
      const [best] = answer.top[0];
      own = { prompt, fact: { id: -1, relation: "", subject: "your prompt", answer: best, root: answer.root, tokens: answer.tokens,
                              rank: data.revisions.map((_, i) => (i === ordinal ? 0 : null)) }, raw: answer.edges, ordinal, top: answer.top };
      // The fact menu and the panels beside the graph describe probe facts: set aside while the prompt is shown.
      factSelect.disabled = true;
      for (const id of ["rank", "lens", "roles"]) Plotly.purge(id);
      draw();
    } catch (err) { status.textContent = `error: ${err.message}`; }
  }
  ownForm.addEventListener("submit", (event) => { event.preventDefault(); traceOwn(document.getElementById("own-prompt").value); });
  document.getElementById("own-clear").addEventListener("click", () => { tracing++; own = null; factSelect.disabled = false; draw(); });

  fillFacts("");
  revision.max = String(reachable.length - 1);
  revision.value = String(reachable.length - 1);
  threshold.min = "0";
  threshold.max = String(THRESHOLD_STEPS);
  threshold.step = "1";
  threshold.value = "0";
  if (!served) {  // what a file holds: the revisions embedded, and how to reach the others
    document.getElementById("embedded").textContent = data.embedded.length === data.revisions.length
      ? `This file embeds the edges of all ${data.revisions.length} revisions.`
      : `This file embeds the edges of ${data.embedded.length} of the ${data.revisions.length} revisions (the slider reaches those); ` +
        "`trajectory serve` reaches every one.";
  }
  // A link that reopens a view (#view:fact=…&revision=…&threshold=…, written by draw): restored where it names
  // a fact, a revision this page reaches and a threshold in range; anything else keeps the default.
  if (location.hash.startsWith("#view:")) {
    const view = new URLSearchParams(location.hash.slice("#view:".length));
    if (byId.has(Number(view.get("fact")))) factSelect.value = view.get("fact");
    const position = reachable.indexOf(data.revisions.indexOf(view.get("revision")));
    if (position >= 0) revision.value = String(position);
    const cut = Number(view.get("threshold"));
    if (view.has("threshold") && cut >= data.tau && cut <= 1) threshold.value = String(positionOf(cut));
  }
  document.getElementById("copy-link").addEventListener("click", (event) => {
    const done = () => { event.target.textContent = "link copied"; setTimeout(() => { event.target.textContent = "copy link"; }, 1500); };
    if (navigator.clipboard && window.isSecureContext) navigator.clipboard.writeText(location.href).then(done, () => prompt("this view's link", location.href));
    else prompt("this view's link", location.href);
  });
  search.addEventListener("input", () => { const keep = factSelect.value; fillFacts(search.value); if ([...factSelect.options].some((o) => o.value === keep)) factSelect.value = keep; draw(); });
  for (const control of [factSelect, revision, threshold]) control.addEventListener("input", draw);
  factSelect.addEventListener("change", draw);
  window.routesReady = draw();
})();
