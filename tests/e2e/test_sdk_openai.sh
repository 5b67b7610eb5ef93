# The official openai npm SDK (pinned in tests/node) against the mock.
. "$(dirname "$0")/sdk_run.sh" sdk_openai.mjs
