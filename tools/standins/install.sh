#!/usr/bin/env bash
# Installs the Node stand-ins for cloud services (dynalite for DynamoDB, Azurite for Azure Blob,
# kinesalite for Kinesis, rhea for the Event Hubs AMQP fake, fauxqs for SNS/SQS) into tools/standins/node_modules from the committed package-lock.json.
# Idempotent: it does nothing when the installed tree already matches the lock file.
set -euo pipefail
dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
stamp="$dir/node_modules/.eddy-lock.sha256"
want="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" \
   && -x "$dir/node_modules/.bin/dynalite" && -x "$dir/node_modules/.bin/azurite-blob" \
   && -x "$dir/node_modules/.bin/kinesalite" && -f "$dir/node_modules/rhea/package.json" \
   && -f "$dir/node_modules/fauxqs/dist/cli.js" ]]; then
  echo "stand-ins already installed in $dir/node_modules"
  exit 0
fi
command -v npm >/dev/null || { echo "install.sh: npm is required (Node 20)" >&2; exit 1; }
npm ci --prefix "$dir" --no-audit --no-fund
echo "$want" > "$stamp"
echo "stand-ins installed in $dir/node_modules"
