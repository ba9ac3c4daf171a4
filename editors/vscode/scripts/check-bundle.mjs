// `npm run package` refuses to build a .vsix without the server inside: exactly one wheel in
// bundled/ (`make vsix` builds it from the repository) and the project's LICENSE next to it.
import { copyFileSync, existsSync, readdirSync } from 'node:fs';

const wheels = existsSync('bundled') ? readdirSync('bundled').filter((f) => /^responses_lsp-.*\.whl$/.test(f)) : [];
if (wheels.length !== 1) {
  console.error(`bundled/ must hold exactly one responses_lsp wheel (found ${wheels.length}): run \`make vsix\` from the repository root`);
  process.exit(1);
}
copyFileSync('../../LICENSE', 'LICENSE');
console.log(`bundling ${wheels[0]}`);
