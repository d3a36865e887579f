/**
 * An inference session: one generation (or one teacher-forced pass) of a
 * batch of sequences through an edited model. Methods that decide per input
 * (ELDER's routing and deferral, GRACE's and MELO's key lookups) decide on
 * the session's prompt pass, from the rows at `queryRows`, and apply that
 * decision on every later decoding step. The session owns the decision, so
 * two generations never share one, and a new batch of inputs needs a new
 * session.
 *
 * Lifecycle (see {@link SessionPhase}): `open`, then `hooks('prompt')` for
 * the one forward over every prompt token, whose hooks decide; once the
 * decision is made the session is `decided` and `hooks('step')` serves each
 * KV-cache step, any number of times. Asking for the prompt hooks twice, or
 * for step hooks before the prompt pass has decided, throws
 * {@link SessionStateError}.
 */
import type { LinearHook } from '../../models/decoder.js';
import { ElderError } from '../../util/errors.js';

/** Which forward of a generation the hooks serve: the prompt (every prompt token), or one decoding step (one new token per sequence). */
export type SessionPass = 'prompt' | 'step';

/** `open`: nothing run; `prompting`: prompt hooks handed out, decision not yet made; `decided`: decoding steps may run. */
export type SessionPhase = 'open' | 'prompting' | 'decided';

/** A session used out of its lifecycle order (a second prompt pass, or a step before the prompt pass). */
export class SessionStateError extends ElderError {}

export abstract class InferenceSession<Decision = unknown> {
  private current: SessionPhase = 'open';
  private made: { decision: Decision } | null = null;

  /** `queryRows`: flattened row (b·T + t) of each sequence's last prompt token in the prompt pass. */
  constructor(readonly queryRows: Int32Array) {}

  get phase(): SessionPhase {
    return this.current;
  }

  /** The hooks for one forward of this session's generation. */
  hooks(pass: SessionPass): ReadonlyMap<string, LinearHook> {
    if (pass === 'prompt') {
      if (this.current !== 'open') throw new SessionStateError('this inference session already ran its prompt pass: open a new session for new inputs');
      this.current = 'prompting';
      return this.promptHooks((decision) => {
        this.made = { decision };
        this.current = 'decided';
      });
    }
    if (this.made === null)
      throw new SessionStateError('a decoding step needs the prompt pass first: run hooks("prompt") through the model before hooks("step")');
    return this.stepHooks(this.made.decision);
  }

  /** What the prompt pass decided; throws before it has. */
  get decision(): Decision {
    if (this.made === null) throw new SessionStateError('the session has not decided yet: its prompt pass has not run');
    return this.made.decision;
  }

  /** Hooks of the prompt pass; they call `decide` once, from the query rows, before any hook that applies the decision needs it. */
  protected abstract promptHooks(decide: (decision: Decision) => void): Map<string, LinearHook>;

  /** Hooks of a decoding step, applying `decision`. */
  protected abstract stepHooks(decision: Decision): Map<string, LinearHook>;
}

/**
 * The session of a method that decides nothing per input (LoRA, FT-L): the
 * same hooks on every pass, decided as soon as the prompt pass starts.
 */
export class FixedSession extends InferenceSession<null> {
  constructor(
    queryRows: Int32Array,
    private readonly fixed: () => Map<string, LinearHook>,
  ) {
    super(queryRows);
  }

  protected promptHooks(decide: (decision: null) => void): Map<string, LinearHook> {
    decide(null);
    return this.fixed();
  }

  protected stepHooks(): Map<string, LinearHook> {
    return this.fixed();
  }
}
