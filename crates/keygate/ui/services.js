// placeholder
import { heading } from './dom.js';

export async function render(main) {
  main.append(heading('services'));
}
