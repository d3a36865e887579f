import { ElderError } from '../../../util/errors.js';

/** An editing state folder that is missing, damaged, or made for another base model. */
export class StateError extends ElderError {}
