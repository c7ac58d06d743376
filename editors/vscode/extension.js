// extension.js: the VS Code client — starts `mira lsp` (settings mira.server.command and .args) for
// .mira files and leaves everything else to the server and the grammar. CommonJS, as VS Code loads it.
const { workspace } = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

async function activate(context) {
  const settings = workspace.getConfiguration("mira");
  const command = settings.get("server.command", "mira");
  const args = settings.get("server.args", ["lsp"]);
  // A script path (bin/mira.js) runs under Node; on Windows `mira` is a .cmd shim that needs a shell.
  const executable = command.endsWith(".js")
    ? {
        command: process.execPath,
        args: [command, ...args],
        options: { env: { ...process.env, ELECTRON_RUN_AS_NODE: "1" } },
      }
    : { command, args, options: { shell: process.platform === "win32" } };
  client = new LanguageClient(
    "mira",
    "Mira",
    { run: executable, debug: executable },
    {
      documentSelector: [
        { scheme: "file", language: "mira" },
        { scheme: "untitled", language: "mira" },
      ],
    },
  );
  context.subscriptions.push(client);
  await client.start();
}

async function deactivate() {
  if (client) await client.stop();
}

module.exports = { activate, deactivate };
