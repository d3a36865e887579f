// The elder service page: plain DOM, no build step. Every value from the
// server is written with textContent, never parsed as HTML.

const $ = (selector) => document.querySelector(selector);
const TOKEN_KEY = 'elder-token';

function authHeaders() {
  const token = $('#token').value.trim();
  return token ? { authorization: `Bearer ${token}` } : {};
}

async function api(method, path, body) {
  const response = await fetch(path, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...(method === 'GET' ? {} : authHeaders()) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new Error(data?.error?.message ?? `${response.status} ${response.statusText}`);
  return data;
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? '';
  if (className) td.className = className;
  return td;
}

const seconds = (value) => (value === null || value === undefined ? '' : `${value.toFixed(1)} s`);

async function refreshHealth() {
  try {
    const health = await api('GET', '/healthz');
    const counts = health.edits ?? {};
    $('#summary').textContent =
      `model ${health.model} · generation ${health.generation} · ${health.codes} live edit codes${health.read_only ? ' · read-only' : ''}`;
    const training = health.training;
    $('#training').textContent = training
      ? `training batch ${training.batch} (${training.ids.join(', ')}): iteration ${training.iteration}/${training.iterations}${training.loss === null ? '' : `, loss ${training.loss.toFixed(4)}`}, ${training.seconds.toFixed(1)} s`
      : health.training_error
        ? `training stopped: ${health.training_error.split('\n')[0]}`
        : `idle · ${counts.queued ?? 0} queued`;
    document.title = `elder — generation ${health.generation}`;
  } catch (error) {
    $('#summary').textContent = `server unreachable (${error.message})`;
  }
}

async function refreshEdits() {
  let listing;
  try {
    listing = await api('GET', '/v1/edits');
  } catch {
    return;
  }
  const body = $('#edits tbody');
  body.replaceChildren();
  // Newest first: the edit just submitted is at the top.
  for (const edit of [...listing.edits].reverse()) {
    const row = body.insertRow();
    row.dataset.id = edit.id;
    cell(row, edit.id);
    cell(row, edit.prompt);
    cell(row, edit.target);
    const status = cell(row, edit.status, `status status-${edit.status}`);
    if (edit.reason) status.title = edit.reason;
    // An applied edit shows whether the model actually gives its target now, never just "applied".
    // "yes" only when the answer a person reads gives the target cleanly; the answer itself is shown beside it.
    const holds = edit.status !== 'applied' ? '' : edit.holds === null ? 'not checked yet' : edit.holds ? 'yes' : 'no';
    const holdsCell = cell(row, holds, edit.holds === false ? 'holds holds-no' : 'holds');
    if (edit.checked_at) holdsCell.title = `checked ${edit.checked_at} on generation ${edit.checked_generation}`;
    cell(row, edit.answer ?? '', 'answer');
    cell(row, seconds(edit.queued_seconds));
    cell(row, seconds(edit.training_seconds));
    cell(row, edit.generation === null ? '' : String(edit.generation));
    const actions = row.insertCell();
    if (edit.status !== 'retracted') {
      const button = document.createElement('button');
      button.className = 'retract';
      button.textContent = 'Retract';
      button.addEventListener('click', () => retract(edit.id, button));
      actions.append(button);
    }
  }
  $('#edits-empty').hidden = listing.edits.length > 0;
  const counts = listing.counts ?? {};
  $('#counts').textContent = Object.entries(counts)
    .filter(([, n]) => n > 0)
    .map(([status, n]) => `${n} ${status}`)
    .join(' · ');
}

async function retract(id, button) {
  button.disabled = true;
  try {
    await api('DELETE', `/v1/edits/${encodeURIComponent(id)}`);
    $('#edit-message').textContent = `Retracted ${id}.`;
    $('#edit-message').className = '';
  } catch (error) {
    $('#edit-message').textContent = `Could not retract ${id}: ${error.message}`;
    $('#edit-message').className = 'error';
    button.disabled = false;
  }
  await refreshEdits();
}

async function submitEdit(event) {
  event.preventDefault();
  const record = { prompt: $('#edit-prompt').value, target: $('#edit-target').value };
  const rephrases = $('#edit-rephrases')
    .value.split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  if (rephrases.length) record.rephrases = rephrases;
  if ($('#edit-id').value.trim()) record.id = $('#edit-id').value.trim();
  if ($('#edit-label').value.trim()) record.label = $('#edit-label').value.trim();
  if ($('#edit-subject').value.trim()) record.subject = $('#edit-subject').value.trim();
  sessionStorage.setItem(TOKEN_KEY, $('#token').value);
  const button = $('#edit-button');
  button.disabled = true;
  try {
    const result = await api('POST', '/v1/edits', record);
    $('#edit-message').textContent = `Queued ${result.ids.join(', ')}.`;
    $('#edit-message').className = '';
    for (const id of ['#edit-prompt', '#edit-target', '#edit-subject', '#edit-rephrases', '#edit-id', '#edit-label']) $(id).value = '';
  } catch (error) {
    $('#edit-message').textContent = error.message;
    $('#edit-message').className = 'error';
  } finally {
    button.disabled = false;
  }
  await Promise.all([refreshEdits(), refreshHealth()]);
}

async function ask(event) {
  event.preventDefault();
  const prompt = $('#ask-prompt').value;
  const button = $('#ask-button');
  button.disabled = true;
  $('#ask-error').textContent = '';
  try {
    const result = await api('POST', '/v1/completions', { prompt, max_tokens: Number($('#ask-max-tokens').value) || 8 });
    $('#answer-prompt').textContent = prompt;
    $('#answer-text').textContent = result.text;
    const route = $('#answer-route');
    route.textContent = result.deferred ? 'deferred to the base model' : 'answered by the edited model';
    route.className = `badge ${result.deferred ? 'deferred' : 'edited'}`;
    $('#answer-distance').textContent = result.distance === null ? '– (no edits)' : String(result.distance);
    $('#answer-nearest').textContent = result.nearest_edit ? `(edit ${result.nearest_edit})` : '';
    $('#answer-generation').textContent = String(result.generation);
    const experts = $('#answer-experts tbody');
    experts.replaceChildren();
    result.experts.forEach((chosen, i) => {
      const row = experts.insertRow();
      cell(row, String(result.blocks[i]));
      cell(row, chosen.join(', '));
    });
    $('#answer').hidden = false;
  } catch (error) {
    $('#ask-error').textContent = error.message;
  } finally {
    button.disabled = false;
  }
}

async function loadEvaluation() {
  let evaluation;
  try {
    evaluation = await api('GET', '/v1/evaluation');
  } catch {
    return; // none: the section stays hidden
  }
  const pct = (value) => (value === null || Number.isNaN(value) ? '–' : `${(100 * value).toFixed(1)}%`);
  $('#evaluation-caption').textContent = `elder bench-edit of ${evaluation.created_at}: ${evaluation.data.editPrompts} edits from ${evaluation.data.file}`;
  const body = $('#evaluation tbody');
  body.replaceChildren();
  for (const method of evaluation.methods) {
    const row = body.insertRow();
    cell(row, method.method);
    cell(row, String(method.edits));
    cell(row, pct(method.reliability));
    cell(row, pct(method.generalization));
    cell(row, pct(method.locality));
    cell(row, pct(method.answer_rate));
  }
  if (evaluation.plot) {
    $('#evaluation-plot').src = evaluation.plot;
    $('#evaluation-plot').hidden = false;
  }
  $('#evaluation-section').hidden = false;
}

$('#token').value = sessionStorage.getItem(TOKEN_KEY) ?? '';
$('#edit-form').addEventListener('submit', submitEdit);
$('#ask-form').addEventListener('submit', ask);
await Promise.all([refreshHealth(), refreshEdits(), loadEvaluation()]);
setInterval(() => {
  void refreshHealth();
  void refreshEdits();
}, 1000);
