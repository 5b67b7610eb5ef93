/* mock_presets.c: built-in profiles that make the emulator behave like a
 * kind of server rather than a generic one (docs/MOCK.md, "Built-in
 * profiles"): `mlxbench mock --profile vllm`, `start{profile = "mlx-lm"}`.
 * A file of that name, if one exists, wins. */
#include <string.h>
#include "mock_int.h"

/* vLLM on a datacenter GPU: fast prefill, continuous batching (the
 * per-stream rate halves only at ~32 streams), automatic prefix caching
 * over 16-token blocks with a large KV pool, a reasoning model streaming
 * `reasoning_content` (vLLM's reasoning parsers) before its answer. */
static const char VLLM[] =
    "{\"description\": \"vLLM-like: continuous batching, automatic prefix caching, "
    "reasoning_content\","
    " \"models\": {"
    "  \"Qwen/Qwen2.5-7B-Instruct\": {\"ttft_ms\": 20, \"prefill_tok_s\": 12000,"
    "   \"decode_tok_s\": 75, \"jitter\": 0.05, \"batch_knee\": 32, \"max_aggregate_tok_s\": 2600,"
    "   \"owned_by\": \"vllm\"},"
    "  \"Qwen/Qwen3-8B\": {\"ttft_ms\": 20, \"prefill_tok_s\": 11000, \"decode_tok_s\": 70,"
    "   \"jitter\": 0.05, \"batch_knee\": 32, \"max_aggregate_tok_s\": 2400,"
    "   \"reasoning_tokens\": 48, \"reasoning_field\": \"reasoning_content\", \"owned_by\": \"vllm\"}},"
    " \"any_model\": true, \"default_model\": \"Qwen/Qwen2.5-7B-Instruct\","
    " \"prefix_cache\": {\"blocks\": 131072, \"block_tokens\": 16}}";

/* mlx_lm.server on an Apple-silicon laptop: slow prefill (a long prompt
 * costs seconds), little batching, a prompt cache that reuses the longest
 * common prefix token by token (block_tokens 1) over the last few prompts,
 * a thinking model streaming `reasoning`. */
static const char MLX_LM[] =
    "{\"description\": \"mlx_lm.server-like: Apple silicon, token-level prompt cache, "
    "reasoning\","
    " \"models\": {"
    "  \"mlx-community/Qwen2.5-7B-Instruct-4bit\": {\"ttft_ms\": 60, \"prefill_tok_s\": 900,"
    "   \"decode_tok_s\": 45, \"jitter\": 0.05, \"batch_knee\": 2, \"max_aggregate_tok_s\": 90,"
    "   \"owned_by\": \"mlx-community\"},"
    "  \"mlx-community/Qwen3-8B-4bit\": {\"ttft_ms\": 60, \"prefill_tok_s\": 800,"
    "   \"decode_tok_s\": 40, \"jitter\": 0.05, \"batch_knee\": 2, \"max_aggregate_tok_s\": 80,"
    "   \"reasoning_tokens\": 64, \"reasoning_field\": \"reasoning\", \"owned_by\": \"mlx-community\"}},"
    " \"any_model\": true, \"default_model\": \"mlx-community/Qwen2.5-7B-Instruct-4bit\","
    " \"prefix_cache\": {\"blocks\": 65536, \"block_tokens\": 1}}";

/* The profile JSON of a built-in profile's name, or NULL. */
const char *mk_preset(const char *name)
{
    if (!name)
        return NULL;
    if (strcmp(name, "vllm") == 0)
        return VLLM;
    if (strcmp(name, "mlx-lm") == 0 || strcmp(name, "mlx_lm") == 0)
        return MLX_LM;
    return NULL;
}
