import { retractEdit } from '../../editors/elder/store/state.js';
import { type CommandSpec, parseOptions, requireString } from '../args.js';

export const RETRACT_COMMAND: CommandSpec = {
  name: 'retract',
  summary: 'Retracts an applied edit: its inputs defer to the base model again, and it is no longer replayed.',
  options: {
    state: { type: 'string', value: 'DIR', help: 'the ELDER state folder', required: true },
    id: { type: 'string', value: 'ID', help: 'the edit id', required: true },
  },
};

export function retractCommand(argv: string[]): void {
  const options = parseOptions(argv, RETRACT_COMMAND);
  const stateDir = requireString(options, 'state', 'retract');
  const id = requireString(options, 'id', 'retract');
  retractEdit(stateDir, id);
  console.log(`retracted ${id}: its inputs now run the base model`);
}
