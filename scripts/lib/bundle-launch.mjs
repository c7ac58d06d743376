// bundle-launch.mjs: the portable bundle's launcher (lib/launch.mjs there, started by its ./mira shell
// script on the bundled Node): the bundled CLI beside it, run as bin/mira.js runs the package's.
import { join } from "node:path";
import { launch } from "./launch.mjs";

launch([join(import.meta.dirname, "mira.mjs"), ...process.argv.slice(2)]);
