import { retractEdit } from '../../editors/elder/state.js';
import { parseOptions, requireString } from '../args.js';

export function retractCommand(argv: string[]): void {
  const options = parseOptions(argv, { state: { type: 'string' }, id: { type: 'string' } }, 'retract');
  const stateDir = requireString(options, 'state', 'retract');
  const id = requireString(options, 'id', 'retract');
  retractEdit(stateDir, id);
  console.log(`retracted ${id}: its inputs now run the base model`);
}
