(() => {
  "use strict";
  const NODE_W = 128, NODE_H = 46, LANE_W = 142, ROW_H = 68, PAD_X = 20, PAD_TOP = 44, PAD_BOTTOM = 40;
  const index = JSON.parse(document.getElementById("run-index").textContent);
  const parsed = new Map();
  const state = { iteration: null, data: null, taskIndex: 0, nodeId: null, collapsed: new Set(), layout: null };

  const $ = (id) => document.getElementById(id);
  // Control characters (a small model emits some) become their visible Unicode pictures.
  const printable = (value) => String(value).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g,
    (c) => String.fromCharCode(c === "\u007f" ? 0x2421 : 0x2400 + c.charCodeAt(0)));
  function make(tag, className, text) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined && text !== null) element.textContent = printable(text);
    return element;
  }
  const percent = (x) => `${Math.round(100 * x)}%`;

  function iterationData(number) {
    if (!parsed.has(number)) {
      parsed.set(number, JSON.parse($(`iteration-${number}`).textContent));
    }
    return parsed.get(number);
  }
  const text = (ref) => (ref === null || ref === undefined ? null : state.data.strings[ref]);
  const currentTask = () => state.data.tasks[state.taskIndex];

  // ---- header and task list ----------------------------------------------------------------
  function renderHeader() {
    $("run-name").textContent = `sparkrl · ${index.run}`;
    $("run-command").textContent = index.command;
    $("run-command").title = index.command;
    const select = $("iteration-select");
    for (const it of index.iterations) {
      const option = make("option", null,
        `${it.iteration}  ·  success ${percent(it.success)}  ·  explore ${percent(it.explore_ratio)}`);
      option.value = String(it.iteration);
      select.append(option);
    }
    select.addEventListener("change", () => openIteration(Number(select.value), state.taskIndex));
    $("iteration-prev").addEventListener("click", () => stepIteration(-1));
    $("iteration-next").addEventListener("click", () => stepIteration(1));
  }

  function stepIteration(delta) {
    const numbers = index.iterations.map((it) => it.iteration);
    const next = numbers.indexOf(state.iteration) + delta;
    if (next >= 0 && next < numbers.length) openIteration(numbers[next], state.taskIndex);
  }

  function openIteration(number, taskIndex) {
    state.iteration = number;
    state.data = iterationData(number);
    $("iteration-select").value = String(number);
    const summary = state.data.summary;
    const line = $("iteration-summary");
    line.replaceChildren();
    for (const [label, value] of [["tasks", summary.tasks], ["leaves", summary.leaves],
      ["success", percent(summary.success)], ["explore", percent(summary.explore_ratio)]]) {
      line.append(`${label} `, make("b", null, value), "   ");
    }
    renderTaskRows();
    if (!state.data.tasks.length) {
      $("forest-title").textContent = `iteration ${number} has no tasks`;
      $("forest-stats").replaceChildren();
      $("canvas").replaceChildren();
      $("details").replaceChildren(make("div", "placeholder", "No steps."));
      state.nodeId = null;
      return;
    }
    openTask(Math.min(taskIndex, state.data.tasks.length - 1));
  }

  function renderTaskRows() {
    const body = $("task-rows");
    body.replaceChildren();
    state.data.tasks.forEach((task, position) => {
      const row = make("tr");
      row.dataset.taskIndex = String(position);
      const idCell = make("td");
      idCell.title = task.task_id;
      const typePrefix = `${task.task_type}-`;
      const shortId = task.task_id.startsWith(typePrefix) ? task.task_id.slice(typePrefix.length) : task.task_id;
      idCell.append(make("div", "task-id", shortId), make("div", "task-sub", `${task.task_type} · ${task.split}`));
      const success = make("td");
      const bar = make("span", "bar");
      const fill = make("i");
      fill.style.width = percent(task.stats.success);
      bar.append(fill);
      success.append(bar, percent(task.stats.success));
      row.append(idCell, make("td", "num", task.stats.leaves), make("td", "num", task.stats.branches), success);
      row.addEventListener("click", () => openTask(position));
      body.append(row);
    });
  }

  function openTask(position) {
    if (position < 0 || position >= state.data.tasks.length) return;
    state.taskIndex = position;
    state.collapsed = new Set();
    for (const row of $("task-rows").children) {
      row.classList.toggle("selected", Number(row.dataset.taskIndex) === position);
    }
    $("task-rows").children[position].scrollIntoView({ block: "nearest" });
    const task = currentTask();
    state.byId = new Map(task.nodes.map((node) => [node.id, node]));
    renderForestHead(task);
    renderForest();
    select(task.root_ids.length ? task.root_ids[0] : null);
  }

  function renderForestHead(task) {
    const title = $("forest-title");
    title.replaceChildren(make("span", null, task.task_id),
      make("span", "sub", `${task.task_type} · ${task.split} · iteration ${state.iteration}`));
    const stats = task.stats;
    const chips = [
      ["roots", stats.roots], ["forks", stats.forks], ["leaves", stats.leaves], ["depth", stats.depth],
      ["steps", stats.steps], ["explore", percent(stats.explore_ratio), "explore"],
      ["success", `${stats.outcomes.won}/${stats.leaves}`, "won"],
      ["lost", stats.outcomes.lost, "lost"], ["truncated", stats.outcomes.truncated, "truncated"],
      ["invalid", stats.outcomes.invalid, "invalid"], ["tokens", stats.generated_tokens],
    ];
    $("forest-stats").replaceChildren(...chips.map(([label, value, kind]) => {
      const chip = make("span", `stat ${kind || ""}`);
      chip.id = `stat-${label}`;
      chip.append(`${label} `, make("b", null, value));
      return chip;
    }));
  }

  // ---- the forest ---------------------------------------------------------------------------
  function visibleChildren(node) {
    return state.collapsed.has(node.id) ? [] : node.children;
  }

  // Lanes: each visible leaf gets a column; an inner node sits in its first child's column so a
  // trajectory runs straight down and every fork branches to the right.
  function layout(task) {
    const position = new Map();
    let lanes = 0;
    const place = (id) => {
      const node = state.byId.get(id);
      let lane = null;
      for (const child of visibleChildren(node)) {
        const childLane = place(child);
        if (lane === null) lane = childLane;
      }
      if (lane === null) lane = lanes++;
      position.set(id, { lane, depth: node.depth });
      return lane;
    };
    task.root_ids.forEach(place);
    const maxDepth = Math.max(0, ...[...position.values()].map((p) => p.depth));
    return { position, lanes, maxDepth };
  }

  const nodeX = (lane) => PAD_X + lane * LANE_W;
  const nodeY = (depth) => PAD_TOP + depth * ROW_H;

  function hiddenSteps(node) {
    let count = 0;
    const stack = [...node.children];
    while (stack.length) {
      const next = state.byId.get(stack.pop());
      count += 1;
      stack.push(...next.children);
    }
    return count;
  }

  function renderForest() {
    const task = currentTask();
    const plan = layout(task);
    state.layout = plan;
    const canvas = $("canvas");
    const width = PAD_X * 2 + Math.max(1, plan.lanes) * LANE_W - (LANE_W - NODE_W);
    const height = nodeY(plan.maxDepth) + NODE_H + PAD_BOTTOM;
    canvas.style.width = `${width}px`;
    canvas.style.height = `${height}px`;

    const svgNS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(svgNS, "svg");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    const parts = [svg];

    const rootLanes = task.root_ids.map((id) => plan.position.get(id).lane);
    if (rootLanes.length) {
      const y = PAD_TOP - 18;
      const line = document.createElementNS(svgNS, "path");
      const left = nodeX(Math.min(...rootLanes)) + NODE_W / 2, right = nodeX(Math.max(...rootLanes)) + NODE_W / 2;
      let d = `M ${left} ${y} L ${right} ${y}`;
      for (const lane of rootLanes) d += ` M ${nodeX(lane) + NODE_W / 2} ${y} L ${nodeX(lane) + NODE_W / 2} ${PAD_TOP}`;
      line.setAttribute("d", d);
      line.setAttribute("class", "start-line");
      svg.append(line);
      const label = make("div", "start-label", `initial state · ${task.root_ids.length} roots`);
      label.style.left = `${left + 6}px`;
      label.style.top = `${y - 17}px`;
      parts.push(label);
    }

    for (const node of task.nodes) {
      const at = plan.position.get(node.id);
      if (!at) continue;
      const kids = visibleChildren(node);
      for (const childId of kids) {
        const to = plan.position.get(childId);
        const x1 = nodeX(at.lane) + NODE_W / 2, y1 = nodeY(at.depth) + NODE_H;
        const x2 = nodeX(to.lane) + NODE_W / 2, y2 = nodeY(to.depth);
        const edge = document.createElementNS(svgNS, "path");
        const middle = (y1 + y2) / 2;
        edge.setAttribute("d", `M ${x1} ${y1} C ${x1} ${middle} ${x2} ${middle} ${x2} ${y2}`);
        edge.setAttribute("class", kids.length > 1 ? "edge fork" : "edge");
        svg.append(edge);
      }
      parts.push(...nodeElements(node, at));
    }
    canvas.replaceChildren(...parts);
  }

  function nodeElements(node, at) {
    const isLeaf = node.children.length === 0;
    const collapsed = state.collapsed.has(node.id);
    const box = make("div", `node mode-${node.mode}`);
    box.id = `node-${node.id}`;
    box.dataset.nodeId = String(node.id);
    if (isLeaf) box.classList.add("leaf", `outcome-${node.outcome}`);
    if (collapsed) box.classList.add("collapsed");
    if (!node.valid) box.classList.add("invalid");
    if (node.id === state.nodeId) box.classList.add("selected");
    box.style.left = `${nodeX(at.lane)}px`;
    box.style.top = `${nodeY(at.depth)}px`;
    box.title = printable(node.action || "(no action)");

    const head = make("div", "node-head");
    const flags = [];
    if (node.children.length > 1) flags.push(`fork ${node.children.length}`);
    if (collapsed) flags.push(`+${hiddenSteps(node)}`);
    head.append(make("span", "step", node.depth + 1), make("span", "mode", node.mode),
      make("span", "flags", flags.join(" ")));
    const action = make("div", node.action ? "node-action" : "node-action empty", node.action || "no action");
    box.append(head, action);
    if (node.children.length > 1) box.classList.add("fork");
    box.addEventListener("click", () => select(node.id));
    const elements = [box];

    if (node.children.length) {
      const toggle = make("button", "toggle", collapsed ? "+" : "−");
      toggle.type = "button";
      toggle.title = collapsed ? "expand" : "collapse";
      toggle.addEventListener("click", (event) => {
        event.stopPropagation();
        toggleCollapse(node.id);
      });
      box.append(toggle);
    }
    if (isLeaf) {
      const tag = make("div", `outcome-tag outcome-${node.outcome}`, node.outcome);
      tag.style.left = `${nodeX(at.lane)}px`;
      tag.style.top = `${nodeY(at.depth) + NODE_H + 3}px`;
      elements.push(tag);
    }
    return elements;
  }

  function toggleCollapse(id) {
    if (!state.byId.get(id).children.length) return;
    if (state.collapsed.has(id)) state.collapsed.delete(id);
    else state.collapsed.add(id);
    renderForest();
    select(id);
  }

  // ---- selection and details ----------------------------------------------------------------
  function select(id) {
    const previous = state.nodeId === null ? null : $(`node-${state.nodeId}`);
    if (previous) previous.classList.remove("selected");
    state.nodeId = id;
    if (id === null) {
      $("details").replaceChildren(make("div", "placeholder", "This task has no steps."));
      return;
    }
    const box = $(`node-${id}`);
    if (box) {
      box.classList.add("selected");
      box.scrollIntoView({ block: "nearest", inline: "nearest" });
    }
    renderDetails(state.byId.get(id));
  }

  function leavesBelow(node) {
    const outcomes = { won: 0, lost: 0, truncated: 0, invalid: 0 };
    const stack = [node.id];
    let total = 0;
    while (stack.length) {
      const next = state.byId.get(stack.pop());
      if (next.children.length) stack.push(...next.children);
      else { total += 1; outcomes[next.outcome] += 1; }
    }
    return { total, outcomes };
  }

  function renderDetails(node) {
    const details = $("details");
    const parts = [];
    const title = make("div", null, `Step ${node.depth + 1} · node ${node.id}`);
    title.id = "detail-title";
    const badges = make("div");
    badges.id = "detail-badges";
    const badge = (label, kind) => badges.append(make("span", `badge ${kind || ""}`, label));
    badge(node.mode, node.mode === "explore" ? "explore" : "");
    badge(node.valid ? "valid format" : "invalid format", node.valid ? "" : "bad");
    if (node.children.length > 1) badge(`forks into ${node.children.length}`);
    if (node.outcome) badge(node.outcome, node.outcome);
    badge(`reward ${node.reward}`);
    badge(`${node.tokens} tokens`);
    if (node.entropy !== null) badge(`head entropy ${node.entropy.toFixed(2)}`);
    parts.push(title, badges);
    if (node.children.length) {
      const below = leavesBelow(node);
      const line = `${below.total} trajectories continue from here: ` +
        Object.entries(below.outcomes).filter(([, n]) => n).map(([k, n]) => `${n} ${k}`).join(", ");
      parts.push(make("div", null, line));
    }
    const section = (heading, body, id) => {
      const pre = make("pre", null, body);
      pre.id = id;
      parts.push(make("h3", null, heading), pre);
    };
    section("Action", node.action || "(none parsed)", "detail-action");
    section("Observation", text(node.observation), "detail-observation");
    section("Reasoning (response)", text(node.response), "detail-response");
    const next = text(node.next_observation);
    if (next !== null) section("Next observation", next, "detail-next-observation");
    details.replaceChildren(...parts);
    details.scrollTop = 0;
  }

  // ---- keyboard ------------------------------------------------------------------------------
  function neighbourAtSameDepth(delta) {
    const here = state.layout.position.get(state.nodeId);
    const row = [...state.layout.position.entries()]
      .filter(([, at]) => at.depth === here.depth)
      .sort((a, b) => a[1].lane - b[1].lane)
      .map(([id]) => id);
    const next = row.indexOf(state.nodeId) + delta;
    return next >= 0 && next < row.length ? row[next] : null;
  }

  function onKey(event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target instanceof HTMLSelectElement || event.target instanceof HTMLInputElement) return;
    if (event.target instanceof HTMLButtonElement && (event.key === "Enter" || event.key === " ")) return;
    const node = state.nodeId === null ? null : state.byId.get(state.nodeId);
    let target = null;
    switch (event.key) {
      case "ArrowUp": target = node && node.parent; break;
      case "ArrowDown": target = node && visibleChildren(node).length ? visibleChildren(node)[0] : null; break;
      case "ArrowLeft": target = node && neighbourAtSameDepth(-1); break;
      case "ArrowRight": target = node && neighbourAtSameDepth(1); break;
      case "Enter": case " ": if (node) toggleCollapse(node.id); break;
      case "j": case "n": openTask(state.taskIndex + 1); break;
      case "k": case "p": openTask(state.taskIndex - 1); break;
      case "]": stepIteration(1); break;
      case "[": stepIteration(-1); break;
      default: return;
    }
    event.preventDefault();
    if (target !== null && target !== undefined) select(target);
  }

  renderHeader();
  document.addEventListener("keydown", onKey);
  if (index.iterations.length) openIteration(index.iterations[index.iterations.length - 1].iteration, 0);
})();
