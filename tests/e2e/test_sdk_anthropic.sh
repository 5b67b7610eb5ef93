# The official @anthropic-ai/sdk npm SDK (pinned in tests/node) against the mock.
. "$(dirname "$0")/sdk_run.sh" sdk_anthropic.mjs
