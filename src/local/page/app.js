// The local service's page: polls GET /api/images and renders each image's latest verdict; a rescan button
// per image posts to /api/rescan. Plain browser JavaScript, no build step; text goes in through textContent only.
'use strict';

const POLL_MS = 1500;
const SEVERITIES = ['critical', 'high', 'medium', 'low', 'negligible', 'unknown'];

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === 'text') node.textContent = value;
    else if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) node.append(child);
  return node;
}

function shortDigest(digest) {
  return digest.length > 19 ? digest.slice(0, 19) + '…' : digest;
}

function verdictCell(row) {
  if (row.verdict)
    return el('td', {}, [
      el('span', {
        class: 'verdict ' + row.verdict.decision,
        'data-verdict': row.verdict.decision,
        text: row.verdict.decision,
      }),
    ]);
  const status = row.gate.runtimeStatus === 'Running' ? 'gating' : row.gate.runtimeStatus.toLowerCase();
  return el('td', {}, [el('span', { class: 'verdict pending', 'data-verdict': 'none', text: status })]);
}

function findingsCell(verdict) {
  const td = el('td');
  if (!verdict) return td;
  const counts = verdict.findingCounts || {};
  const present = SEVERITIES.filter((s) => counts[s]);
  if (present.length === 0) td.append(el('span', { class: 'muted', text: 'none' }));
  for (const s of present) td.append(el('span', { class: 'sev ' + s, 'data-severity': s, text: s + ' ' + counts[s] }));
  return td;
}

// What the release carries (issue 19): signatures, reports, SBOMs, the signed verdict (VSA), each by digest.
function proofList(verdict) {
  const items = (verdict.proof && verdict.proof.items) || [];
  if (items.length === 0) return [];
  const list = el('ul', { class: 'proof', 'data-proof': String(items.length) });
  for (const i of items) {
    list.append(el('li', { 'data-kind': i.kind, title: i.digest, text: i.kind + ' ' + i.digest.slice(0, 19) + '…' }));
  }
  return [el('div', { class: 'muted', text: 'carries:' }), list];
}

function checksCell(verdict) {
  const td = el('td');
  if (!verdict) return td;
  const failed = verdict.checks.filter((c) => c.status === 'fail' || c.status === 'inconclusive');
  if (failed.length === 0) {
    td.append(el('span', { class: 'muted', text: 'all passed' }), ...proofList(verdict));
    return td;
  }
  const list = el('ul', { class: 'checks' });
  for (const c of failed) {
    list.append(
      el('li', { class: c.status }, [
        el('span', { class: 'name', text: c.name + ' (' + c.status + ')' }),
        document.createTextNode(': ' + c.reason),
      ]),
    );
  }
  td.append(list, ...proofList(verdict));
  return td;
}

function gateCell(row) {
  const gate = row.gate;
  const step = gate.progress && gate.progress.step ? ' · ' + gate.progress.step : '';
  const when = row.verdict ? row.verdict.decidedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '';
  return el('td', {}, [
    el('div', {
      text:
        gate.runtimeStatus +
        (gate.runtimeStatus === 'Running' ? step : '') +
        (gate.trigger ? ' (' + gate.trigger + ')' : ''),
    }),
    el('div', { class: 'muted', text: when }),
  ]);
}

async function rescan(row, button) {
  button.disabled = true;
  button.textContent = 'rescanning…';
  try {
    const res = await fetch('/api/rescan', {
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

function render(data) {
  const tbody = document.querySelector('#images tbody');
  const rows = data.images.map((row) => {
    const button = el('button', {
      type: 'button',
      'data-action': 'rescan',
      'aria-label': 'Rescan ' + row.image,
      text: 'Rescan',
    });
    button.addEventListener('click', () => rescan(row, button));
    const name = row.repository + (row.tag ? ':' + row.tag : '');
    return el(
      'tr',
      {
        'data-image': row.image,
        'data-repository': row.repository,
        'data-decided-at': row.verdict ? row.verdict.decidedAt : '',
      },
      [
        el('td', { class: 'image' }, [
          el('div', { text: name }),
          el('code', { title: row.image, text: row.registry + ' · ' + shortDigest(row.digest) }),
        ]),
        verdictCell(row),
        findingsCell(row.verdict),
        checksCell(row.verdict),
        gateCell(row),
        el('td', {}, [button]),
      ],
    );
  });
  // Keep a button that is mid-click: replace rows only when something changed.
  const signature = JSON.stringify(
    data.images.map((r) => [
      r.image,
      r.gate.id,
      r.gate.runtimeStatus,
      r.gate.progress,
      r.verdict && r.verdict.decidedAt,
    ]),
  );
  if (tbody.dataset.signature !== signature) {
    tbody.replaceChildren(...rows);
    tbody.dataset.signature = signature;
  }
  document.getElementById('empty').hidden = data.images.length > 0;
  const purge = document.getElementById('purge');
  purge.textContent = data.purge ? purgeText(data.purge) : 'no purge yet';
}

/** A purge summary as lines of text: totals, what was kept and why, what went wrong. */
function purgeText(s) {
  const lines = [];
  lines.push(
    (s.dryRun ? 'dry run' : 'purge') +
      ' of ' +
      s.registry +
      ' (' +
      s.trigger +
      '), finished ' +
      new Date(s.finishedAt).toLocaleString(),
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
    const res = await fetch('/api/purge', {
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

// Running section: GET /api/runtime, grouped workload → image → status, with the reason and the grace left.
function graceText(entry) {
  if (!entry.graceUntil) return '';
  const left = Date.parse(entry.graceUntil) - Date.now();
  if (left <= 0) return 'grace ended ' + entry.graceUntil.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  const hours = Math.floor(left / 3600000);
  return (
    'grace left: ' +
    (hours >= 48
      ? Math.floor(hours / 24) + 'd ' + (hours % 24) + 'h'
      : hours + 'h ' + Math.floor((left % 3600000) / 60000) + 'm')
  );
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
    const why = el('td', {}, [el('div', { text: entry.reason })]);
    const grace = graceText(entry);
    if (grace) why.append(el('div', { class: 'grace', text: grace }));
    if (entry.byTag) why.append(el('div', { class: 'muted by-tag', text: 'deployed by tag: pin by digest' }));
    body.append(
      el('tr', { 'data-status': entry.status }, [
        el('td', { class: 'workload', title: workload, text: name }),
        el('td', { class: 'image', title: entry.image, text: entry.image }),
        el('td', {}, [
          el('span', {
            class: 'runtime-status ' + entry.status,
            'data-runtime-status': entry.status,
            text: entry.status,
          }),
        ]),
        why,
      ]),
    );
  }
  const counts = Object.entries(report.summary)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => n + ' ' + s)
    .join(', ');
  document.getElementById('running-meta').textContent =
    'checked ' +
    report.generatedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z') +
    ' (' +
    report.inventory +
    '): ' +
    counts;
}

async function refreshRunning() {
  try {
    const res = await fetch('/api/runtime', { cache: 'no-store' });
    if (res.status === 404) return renderRunning(null);
    if (res.ok) renderRunning(await res.json());
  } catch {
    // the images poll reports an unreachable service
  }
}

function setStatus(text) {
  document.getElementById('status').textContent = text;
}

async function refresh() {
  try {
    const res = await fetch('/api/images', { cache: 'no-store' });
    if (!res.ok) throw new Error('HTTP ' + res.status);
    const data = await res.json();
    render(data);
    await refreshRunning();
    setStatus(
      data.images.length +
        ' image(s); ' +
        data.gatesRunning +
        ' gate(s) running; updated ' +
        new Date().toLocaleTimeString(),
    );
  } catch (err) {
    setStatus('cannot reach the local service: ' + err.message);
  } finally {
    setTimeout(refresh, POLL_MS);
  }
}

const previewButton = document.getElementById('purge-preview');
previewButton.addEventListener('click', () => previewPurge(previewButton));
refresh();
