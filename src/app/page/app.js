// The verdicts page, served by both hosts (the local service at /, the Functions app at /api/ui/): polls
// <api>/images and renders one row per image with its index children nested under it, a findings table per image,
// a signature badge, filters and search. <api> is <html data-api-base>. Plain browser JavaScript, no build step;
// text goes in through textContent only. Times are shown in one format everywhere: ISO 8601 UTC.
'use strict';

const API = document.documentElement.dataset.apiBase || '/api';
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];
const STATUS_TEXT = {
  blocking: 'blocking',
  'below-threshold': 'below threshold',
  'passed-over': 'passed over (no fix)',
  excepted: 'excepted',
};

let latest = null;
let runtimeReport = null;
const openFindings = new Set();

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key === 'text') node.textContent = value;
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) if (child) node.append(child);
  return node;
}

/** The one time format of the page: ISO 8601 in UTC to the second, e.g. 2026-12-07T20:31:05Z. */
function isoTime(value) {
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) return String(value || '');
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function timeEl(value) {
  const text = isoTime(value);
  return el('time', { datetime: text, text });
}

function shortDigest(digest) {
  return digest && digest.length > 19 ? digest.slice(0, 19) + '…' : digest || '';
}

function severityRank(s) {
  const i = SEVERITIES.indexOf(s);
  return i < 0 ? SEVERITIES.length : i;
}

// ---- what a verdict says, read from its checks ----

/** Every listed finding of a verdict, with the platform manifest it belongs to (indexes). */
function findingsOf(verdict) {
  const out = [];
  if (!verdict) return out;
  for (const c of verdict.checks) {
    if (c.name !== 'vulnerabilities' || !c.details || !Array.isArray(c.details.findings)) continue;
    for (const f of c.details.findings) {
      // A stored verdict is data: entries without the expected shape are left out rather than break the page.
      if (f && typeof f.id === 'string' && typeof f.severity === 'string' && typeof f.status === 'string')
        out.push(Object.assign({ manifest: c.manifest }, f));
    }
  }
  return out;
}

function notListedOf(verdict) {
  let n = 0;
  if (!verdict) return n;
  for (const c of verdict.checks) {
    if (c.name === 'vulnerabilities' && c.details && typeof c.details.findingsNotListed === 'number')
      n += c.details.findingsNotListed;
  }
  return n + (verdict.findingsOmitted || 0);
}

/** The platform manifests of an index, from its checks (`platform linux/amd64 (sha256:…): …`). */
function childrenOf(verdict) {
  const children = new Map();
  if (!verdict) return [];
  for (const c of verdict.checks) {
    if (!c.manifest) continue;
    let child = children.get(c.manifest);
    if (!child) {
      const m = /^platform (\S+) \(/.exec(c.reason || '');
      child = { digest: c.manifest, platform: m ? m[1] : 'unknown platform', checks: [] };
      children.set(c.manifest, child);
    }
    child.checks.push(c);
  }
  return [...children.values()];
}

/** verified strict, audit only, unsigned, not checked (and failed / inconclusive when enforced). */
function signatureBadge(verdict) {
  const checks = verdict ? verdict.checks.filter((c) => c.name === 'signatures') : [];
  if (checks.length === 0) return { kind: 'not-checked', text: 'signature not checked' };
  const order = ['failed', 'inconclusive', 'skipped', 'verified'];
  let worst = null;
  for (const c of checks) {
    const d = c.details || {};
    if (!worst || order.indexOf(d.status) < order.indexOf(worst.status)) worst = d;
  }
  const unsigned = worst.signatures === 0;
  if (worst.status === 'skipped') return { kind: 'not-checked', text: 'signature not checked' };
  if (!worst.required) {
    const what = worst.status === 'verified' ? 'verified' : unsigned ? 'unsigned' : worst.status;
    return { kind: 'audit', text: 'audit only · ' + what };
  }
  if (worst.status === 'verified') return { kind: 'verified', text: 'verified · strict' };
  if (unsigned) return { kind: 'unsigned', text: 'unsigned' };
  return { kind: worst.status, text: 'signature ' + worst.status };
}

function decisionOf(row) {
  return row.verdict ? row.verdict.decision : 'pending';
}

// ---- filters ----

function filters() {
  return {
    decision: document.getElementById('f-decision').value,
    repository: document.getElementById('f-repository').value,
    severity: document.getElementById('f-severity').value,
    status: document.getElementById('f-status').value,
    search: document.getElementById('f-search').value.trim().toLowerCase(),
  };
}

function findingMatches(f, flt, imageMatched) {
  if (flt.severity && severityRank(f.severity) > severityRank(flt.severity)) return false;
  if (flt.status === 'expired' && !f.exceptionExpired) return false;
  if (flt.status && flt.status !== 'expired' && f.status !== flt.status) return false;
  if (flt.search && !imageMatched) {
    const hay = (f.id + ' ' + (f.package || '') + ' ' + (f.installedVersion || '')).toLowerCase();
    if (!hay.includes(flt.search)) return false;
  }
  return true;
}

/** The row's findings that pass the filters, or null when the row itself is filtered out. */
function visibleFindings(row, flt) {
  if (flt.decision && decisionOf(row) !== flt.decision) return null;
  if (flt.repository && row.repository !== flt.repository) return null;
  const name = (row.image + ' ' + (row.tag || '')).toLowerCase();
  const imageMatched = !flt.search || name.includes(flt.search);
  const all = findingsOf(row.verdict);
  const shown = all.filter((f) => findingMatches(f, flt, imageMatched));
  const findingFilter = flt.severity || flt.status || (flt.search && !imageMatched);
  if (findingFilter && shown.length === 0) return null;
  return shown;
}

// ---- rendering ----

function verdictBadge(row) {
  if (row.verdict)
    return el('span', {
      class: 'verdict ' + row.verdict.decision,
      'data-verdict': row.verdict.decision,
      text: row.verdict.decision,
    });
  const status = row.gate
    ? row.gate.runtimeStatus === 'Running'
      ? 'gating'
      : row.gate.runtimeStatus.toLowerCase()
    : '';
  return el('span', { class: 'verdict pending', 'data-verdict': 'none', text: status || 'pending' });
}

function countsEl(verdict) {
  const span = el('span', { class: 'counts' });
  if (!verdict) return span;
  const counts = verdict.findingCounts || {};
  const present = SEVERITIES.filter((s) => counts[s]);
  if (present.length === 0) span.append(el('span', { class: 'muted', text: 'no findings' }));
  for (const s of present)
    span.append(el('span', { class: 'sev ' + s, 'data-severity': s, text: s + ' ' + counts[s] }));
  return span;
}

function failedChecksEl(checks) {
  const failed = checks.filter((c) => c.status === 'fail' || c.status === 'inconclusive');
  if (failed.length === 0) return null;
  const list = el('ul', { class: 'checks' });
  for (const c of failed) {
    list.append(
      el('li', { class: c.status }, [
        el('span', { class: 'name', text: c.name + ' (' + c.status + ')' }),
        document.createTextNode(': ' + c.reason),
      ]),
    );
  }
  return list;
}

function findingsTable(findings, isIndex) {
  const head = ['Library', 'Vulnerability', 'Severity', 'Installed', 'Fixed', 'Status', 'Source'];
  if (isIndex) head.unshift('Platform');
  const table = el('table', { class: 'findings' }, [
    el('thead', {}, [
      el(
        'tr',
        {},
        head.map((h) => el('th', { scope: 'col', text: h })),
      ),
    ]),
  ]);
  const body = el('tbody');
  for (const f of findings) {
    const status = STATUS_TEXT[f.status] || f.status;
    const exception = f.exceptionExpired
      ? 'exception ' + f.exception + ' expired ' + f.exceptionExpired
      : f.exception
        ? f.exception + ' until ' + f.exceptionExpires
        : '';
    const cells = [
      ['Library', f.package || '—'],
      ['Vulnerability', f.id],
      ['Severity', null],
      ['Installed', f.installedVersion || '—'],
      ['Fixed', f.fixedVersion || '—'],
      ['Status', null],
      ['Source', Array.isArray(f.sources) ? f.sources.join(', ') : ''],
    ];
    if (isIndex) cells.unshift(['Platform', shortDigest(f.manifest)]);
    const tr = el('tr', { 'data-finding': f.id, 'data-status': f.status });
    for (const [label, text] of cells) {
      const td = el('td', { 'data-label': label });
      if (label === 'Severity') {
        td.append(el('span', { class: 'sev ' + f.severity, text: f.severity }));
        if (f.severitySource) td.append(el('span', { class: 'muted rated', text: ' by ' + f.severitySource }));
      } else if (label === 'Status') {
        td.append(el('span', { class: 'status ' + f.status + (f.exceptionExpired ? ' expired' : ''), text: status }));
        if (exception) td.append(el('div', { class: 'muted', text: exception }));
      } else {
        td.textContent = text;
        if (label === 'Source' || label === 'Platform') td.className = 'mono';
      }
      tr.append(td);
    }
    body.append(tr);
  }
  table.append(body);
  return table;
}

/**
 * What a release carries (signatures, reports, SBOMs, the signed verdict), each by digest, from the verdict's
 * `proof` (recorded by the promotion); copies that failed are named, never hidden.
 */
function carriesEl(verdict) {
  const slot = el('div', { class: 'carries', 'data-slot': 'release-carries' }, [
    el('span', { class: 'label', text: 'What this release carries: ' }),
  ]);
  const proof = verdict && verdict.proof;
  const items = (proof && Array.isArray(proof.items) && proof.items) || [];
  const failed = (proof && Array.isArray(proof.failed) && proof.failed) || [];
  if (items.length === 0 && failed.length === 0) {
    slot.append(el('span', { class: 'muted', text: 'not recorded in this verdict' }));
    return slot;
  }
  const list = el('ul', { class: 'proof', 'data-proof': String(items.length) });
  for (const item of items.slice(0, 50)) {
    const digest = typeof item.digest === 'string' ? item.digest : '';
    list.append(
      el('li', { class: 'mono', 'data-kind': String(item.kind), title: digest, text: `${item.kind} ${digest}` }),
    );
  }
  for (const f of failed.slice(0, 20)) {
    list.append(el('li', { class: 'mono fail', text: `not copied: ${typeof f === 'string' ? f : JSON.stringify(f)}` }));
  }
  slot.append(list);
  return slot;
}

function rescanButton(row) {
  const button = el('button', {
    type: 'button',
    'data-action': 'rescan',
    'aria-label': 'Rescan ' + row.image,
    text: 'Rescan',
  });
  button.addEventListener('click', () => rescan(row, button));
  return button;
}

function imageEl(row, shown, abilities) {
  const verdict = row.verdict;
  const children = childrenOf(verdict);
  const isIndex = children.length > 0;
  const sig = signatureBadge(verdict);
  const name = row.repository + (row.tag ? ':' + row.tag : '');
  const step = row.gate && row.gate.runtimeStatus === 'Running' && row.gate.progress ? row.gate.progress.step : '';
  const actions = el('div', { class: 'actions' }, [
    verdict
      ? el('a', {
          href: API + '/verdicts/' + row.registry + '/' + row.repository + '@' + row.digest,
          'data-action': 'verdict-json',
          text: 'verdict JSON',
        })
      : null,
    abilities.rescan ? rescanButton(row) : null,
  ]);
  const head = el('div', { class: 'head' }, [
    el('div', { class: 'name' }, [
      el('div', { class: 'repo', text: name }),
      el('code', { title: row.image, text: row.registry + ' · ' + shortDigest(row.digest) }),
    ]),
    el('div', { class: 'badges' }, [
      verdictBadge(row),
      el('span', { class: 'sig ' + sig.kind, 'data-signature': sig.kind, text: sig.text }),
      countsEl(verdict),
    ]),
    el('div', { class: 'when' }, [
      verdict ? timeEl(verdict.decidedAt) : el('span', { class: 'muted', text: step || '' }),
      row.gate && row.gate.trigger ? el('span', { class: 'muted', text: ' · ' + row.gate.trigger }) : null,
    ]),
    actions,
  ]);
  const article = el(
    'article',
    {
      class: 'image-row ' + decisionOf(row),
      'data-image': row.image,
      'data-repository': row.repository,
      'data-decision': decisionOf(row),
      'data-decided-at': verdict ? verdict.decidedAt : '',
    },
    [head],
  );
  if (verdict) article.append(el('p', { class: 'summary', text: verdict.summary }));
  const topChecks = failedChecksEl(verdict ? verdict.checks.filter((c) => !c.manifest) : []);
  if (topChecks) article.append(topChecks);
  if (isIndex) {
    const list = el('ul', { class: 'children', 'aria-label': 'platform manifests' });
    for (const child of children) {
      const failed = child.checks.filter((c) => c.status === 'fail' || c.status === 'inconclusive');
      list.append(
        el('li', { 'data-child': child.digest, 'data-failed': String(failed.length) }, [
          el('span', { class: 'platform', text: child.platform }),
          el('code', { title: child.digest, text: shortDigest(child.digest) }),
          el('span', {
            class: failed.length ? 'child-verdict block' : 'child-verdict release',
            text: failed.length ? failed.length + ' check(s) stop it' : 'passes',
          }),
          failedChecksEl(child.checks),
        ]),
      );
    }
    article.append(list);
  }
  if (verdict) {
    const all = findingsOf(verdict);
    const notListed = notListedOf(verdict);
    const details = el('details', { class: 'findings-box', 'data-image': row.image });
    if (openFindings.has(row.image)) details.open = true;
    details.addEventListener('toggle', () => {
      if (details.open) openFindings.add(row.image);
      else openFindings.delete(row.image);
    });
    const summaryText =
      'Findings: ' +
      (shown.length === all.length ? all.length : shown.length + ' of ' + all.length) +
      ' listed' +
      (notListed ? ', ' + notListed + ' more counted (the verdict lists the worst 100 per manifest)' : '');
    details.append(el('summary', { text: summaryText }));
    if (shown.length) details.append(el('div', { class: 'scroll' }, [findingsTable(shown, isIndex)]));
    else details.append(el('p', { class: 'muted', text: 'no findings listed' }));
    details.append(carriesEl(verdict));
    article.append(details);
  }
  return article;
}

function renderImages() {
  if (!latest) return;
  const data = latest;
  const abilities = data.abilities || { rescan: false, purge: false };
  const flt = filters();
  const repoSelect = document.getElementById('f-repository');
  const repos = [...new Set(data.images.map((r) => r.repository))].sort();
  const have = [...repoSelect.options].map((o) => o.value).slice(1);
  if (have.join('\n') !== repos.join('\n')) {
    const keep = repoSelect.value;
    repoSelect.replaceChildren(
      el('option', { value: '', text: 'all' }),
      ...repos.map((r) => el('option', { value: r, text: r })),
    );
    repoSelect.value = repos.includes(keep) ? keep : '';
  }
  const container = document.getElementById('images');
  const nodes = [];
  for (const row of data.images) {
    const shown = visibleFindings(row, flt);
    if (shown === null) continue;
    nodes.push(imageEl(row, shown, abilities));
  }
  // Keep a button that is mid-click: replace the rows only when something changed.
  const signature = JSON.stringify([
    flt,
    abilities,
    data.images.map((r) => [
      r.image,
      r.gate && r.gate.id,
      r.gate && r.gate.runtimeStatus,
      r.gate && r.gate.progress,
      r.verdict && r.verdict.decidedAt,
    ]),
  ]);
  if (container.dataset.signature !== signature) {
    container.replaceChildren(...nodes);
    container.dataset.signature = signature;
  }
  document.getElementById('empty').hidden = data.images.length > 0;
  document.getElementById('shown').textContent =
    data.images.length > 0
      ? nodes.length +
        ' of ' +
        data.images.length +
        ' image(s) shown' +
        (data.truncated ? ' (the newest verdict records only)' : '')
      : '';
  document.getElementById('host').textContent = data.host === 'azure' ? 'verdicts · Azure' : 'verdicts · local service';
  const purgeButton = document.getElementById('purge-preview');
  purgeButton.hidden = !abilities.purge;
  const purge = document.getElementById('purge');
  purge.textContent = data.purge ? purgeText(data.purge) : 'no purge yet';
  document.getElementById('purge-section').hidden = data.host === 'azure';
}

async function rescan(row, button) {
  button.disabled = true;
  button.textContent = 'rescanning…';
  try {
    const res = await fetch(API + '/rescan', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: row.image }),
    });
    const body = await res.json();
    if (res.status !== 202) throw new Error((body.error && body.error.message) || 'HTTP ' + res.status);
    setStatus('rescan started for ' + row.repository + ' (' + body.rescans[0].id + ')');
  } catch (err) {
    setStatus('rescan failed: ' + err.message);
  } finally {
    button.disabled = false;
    button.textContent = 'Rescan';
  }
}

/** A purge summary as lines of text: totals, what was kept and why, what went wrong. */
function purgeText(s) {
  const lines = [];
  lines.push(
    (s.dryRun ? 'dry run' : 'purge') + ' of ' + s.registry + ' (' + s.trigger + '), finished ' + isoTime(s.finishedAt),
  );
  const freed =
    s.bytesFreed > 0
      ? ', ' +
        (s.bytesFreed / 1048576).toFixed(1) +
        ' MiB freed' +
        (s.sizeUnknown ? ' (+' + s.sizeUnknown + ' of unknown size)' : '')
      : '';
  lines.push(
    s.repositories +
      ' repositories: ' +
      s.deleted +
      (s.dryRun ? ' would be deleted' : ' deleted') +
      freed +
      (s.failed ? ', ' + s.failed + ' failed' : ''),
  );
  const kept = Object.entries(s.keptByReason || {}).map(([reason, n]) => reason + ' ' + n);
  lines.push('kept: ' + (kept.length ? kept.join(', ') : 'nothing'));
  for (const e of s.errors || []) lines.push('error in ' + e.repository + ': ' + e.code + ': ' + e.detail);
  return lines.join('\n');
}

async function previewPurge(button) {
  button.disabled = true;
  try {
    const res = await fetch(API + '/purge', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ dryRun: true }),
    });
    const body = await res.json();
    if (res.status !== 200) throw new Error((body.error && body.error.message) || 'HTTP ' + res.status);
    setStatus(
      'retention dry run finished: ' +
        body.summaries.map((s) => s.deleted + ' would be deleted in ' + s.registry).join('; '),
    );
  } catch (err) {
    setStatus('retention dry run failed: ' + err.message);
  } finally {
    button.disabled = false;
  }
}

// ---- Running: GET <api>/runtime, workload → image → status, the reason, the grace left and doctor pull ----

function graceText(entry) {
  if (!entry.graceUntil) return '';
  const left = Date.parse(entry.graceUntil) - Date.now();
  if (left <= 0) return 'grace ended ' + isoTime(entry.graceUntil);
  const hours = Math.floor(left / 3600000);
  return (
    'grace left: ' +
    (hours >= 48
      ? Math.floor(hours / 24) + 'd ' + (hours % 24) + 'h'
      : hours + 'h ' + Math.floor((left % 3600000) / 60000) + 'm') +
    ' (until ' +
    isoTime(entry.graceUntil) +
    ')'
  );
}

/** `acr-guard doctor pull <name> --scope <resource group>` for an ARM workload id; the name alone otherwise. */
function doctorCommand(workload) {
  const m = /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+)\/providers\/.+\/([^/]+)$/i.exec(workload);
  return m ? 'acr-guard doctor pull ' + m[2] + ' --scope ' + m[1] : 'acr-guard doctor pull ' + workload;
}

function renderRunning(report) {
  const body = document.querySelector('#running tbody');
  body.replaceChildren();
  if (!report) return;
  const rows = [];
  for (const entry of report.images) for (const workload of entry.workloads) rows.push({ workload, entry });
  rows.sort((a, b) => a.workload.localeCompare(b.workload) || a.entry.image.localeCompare(b.entry.image));
  for (const { workload, entry } of rows) {
    const name = workload.replace(/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\//, '');
    const why = el('td', { 'data-label': 'Why' }, [el('div', { text: entry.reason })]);
    const grace = graceText(entry);
    if (grace) why.append(el('div', { class: 'grace', text: grace }));
    if (entry.byTag) why.append(el('div', { class: 'muted by-tag', text: 'deployed by tag: pin by digest' }));
    body.append(
      el('tr', { 'data-status': entry.status }, [
        el('td', { class: 'workload', 'data-label': 'Workload', title: workload, text: name }),
        el('td', { class: 'image', 'data-label': 'Image', title: entry.image, text: entry.image }),
        el('td', { 'data-label': 'Status' }, [
          el('span', {
            class: 'runtime-status ' + entry.status,
            'data-runtime-status': entry.status,
            text: entry.status,
          }),
        ]),
        why,
        el('td', { 'data-label': 'Diagnose' }, [
          el('code', { class: 'cmd', 'data-action': 'doctor-pull', text: doctorCommand(workload) }),
        ]),
      ]),
    );
  }
  // The counts per status are the result envelope's `data.summary` (its top-level `summary` is a sentence).
  const counts = Object.entries((report.data && report.data.summary) || report.summary)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => n + ' ' + s)
    .join(', ');
  document.getElementById('running-meta').textContent =
    'checked ' + isoTime(report.generatedAt) + ' (' + report.inventory + '): ' + counts;
}

async function refreshRunning() {
  try {
    const res = await fetch(API + '/runtime', { cache: 'no-store' });
    if (res.status === 404) runtimeReport = null;
    else if (res.ok) runtimeReport = await res.json();
    renderRunning(runtimeReport);
  } catch {
    // the images poll reports an unreachable service
  }
}

function setStatus(text) {
  document.getElementById('status').textContent = text;
}

async function refresh() {
  let next = 1500;
  try {
    const res = await fetch(API + '/images', { cache: 'no-store' });
    if (!res.ok) {
      const body = await res.json().catch(() => ({}));
      throw new Error((body.error && body.error.message) || 'HTTP ' + res.status);
    }
    latest = await res.json();
    // The Functions app reads Table storage on every poll: poll it less often than the local service.
    if (latest.host === 'azure') next = 15000;
    renderImages();
    await refreshRunning();
    setStatus(
      latest.images.length +
        ' image(s)' +
        (typeof latest.gatesRunning === 'number' ? '; ' + latest.gatesRunning + ' gate(s) running' : '') +
        (latest.abilities && latest.abilities.name ? '; signed in as ' + latest.abilities.name : '') +
        '; updated ' +
        isoTime(Date.now()),
    );
  } catch (err) {
    setStatus('cannot load verdicts: ' + err.message);
  } finally {
    setTimeout(refresh, next);
  }
}

for (const id of ['f-decision', 'f-repository', 'f-severity', 'f-status']) {
  document.getElementById(id).addEventListener('change', renderImages);
}
document.getElementById('f-search').addEventListener('input', renderImages);
document.getElementById('filters').addEventListener('submit', (e) => e.preventDefault());
const previewButton = document.getElementById('purge-preview');
previewButton.addEventListener('click', () => previewPurge(previewButton));
refresh();
