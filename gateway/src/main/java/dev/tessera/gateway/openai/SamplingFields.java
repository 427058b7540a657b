package dev.tessera.gateway.openai;

import dev.tessera.scheduler.text.Sampling;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;

/**
 * The request fields both text endpoints share: sampling (OpenAI's and vLLM's extras {@code top_k}, {@code min_p},
 * {@code repetition_penalty}, {@code ignore_eos}, {@code stop_token_ids}), output length, streaming, and the
 * fields this server refuses rather than silently ignore because they would change the answer
 * ({@code logit_bias}, {@code tools}, a structured {@code response_format}, {@code best_of} other than {@code n}).
 * Unknown fields are ignored, as OpenAI does.
 */
final class SamplingFields {
    private SamplingFields() {
    }

    /** The sampling of a request: everything but {@code logprobs}, which differs between the endpoints. */
    static Sampling.Builder sampling(JsonFields f) {
        refuseUnsupported(f);
        f.optString("user"); // accepted (type-checked) and not used
        Sampling.Builder b = Sampling.builder()
                .temperature(f.optFloat("temperature"))
                .topP(f.optFloat("top_p"))
                .topK(f.optInt("top_k"))
                .minP(f.optFloat("min_p"))
                .repetitionPenalty(f.optFloat("repetition_penalty"))
                .presencePenalty(f.optFloat("presence_penalty"))
                .frequencyPenalty(f.optFloat("frequency_penalty"))
                .seed(f.optLong("seed"))
                .n(f.optLong("n"))
                .ignoreEos(f.optBool("ignore_eos"))
                .stop(f.stringOrStrings("stop"))
                .maxTokens(f.has("max_completion_tokens") ? f.optLong("max_completion_tokens") : f.optLong("max_tokens"));
        JsonArray stopIds = f.optArray("stop_token_ids");
        if (stopIds != null) {
            long[] ids = new long[stopIds.size()];
            for (int i = 0; i < ids.length; i++) {
                Object v = stopIds.getValue(i);
                if (!(v instanceof Integer || v instanceof Long)) {
                    throw ApiError.invalid("stop_token_ids", "item " + i + " must be an integer").exception();
                }
                ids[i] = ((Number) v).longValue();
            }
            b.stopTokenIds(ids);
        }
        return b;
    }

    /** {@code max_completion_tokens} when given, else {@code max_tokens}: the name errors use. */
    static String maxTokensParam(JsonFields f) {
        return f.has("max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
    }

    static boolean stream(JsonFields f) {
        return Boolean.TRUE.equals(f.optBool("stream"));
    }

    /** {@code stream_options.include_usage}; only meaningful when streaming. */
    static boolean includeUsage(JsonFields f) {
        JsonObject options = f.optObject("stream_options");
        if (options == null) return false;
        return Boolean.TRUE.equals(new JsonFields(options, "stream_options.").optBool("include_usage"));
    }

    private static void refuseUnsupported(JsonFields f) {
        JsonObject bias = f.optObject("logit_bias");
        if (bias != null && !bias.isEmpty()) throw f.unsupported("logit_bias", "is not supported");
        JsonArray tools = f.optArray("tools");
        if (tools != null && !tools.isEmpty()) throw f.unsupported("tools", "tool calling is not supported");
        JsonArray functions = f.optArray("functions");
        if (functions != null && !functions.isEmpty()) {
            throw f.unsupported("functions", "function calling is not supported");
        }
        JsonObject format = f.optObject("response_format");
        if (format != null) {
            String type = new JsonFields(format, "response_format.").optString("type");
            if (type != null && !type.equals("text")) {
                throw f.unsupported("response_format", "only type 'text' is supported, got '" + type + "'");
            }
        }
        Long bestOf = f.optLong("best_of");
        Long n = f.optLong("n");
        if (bestOf != null && bestOf != 1 && !bestOf.equals(n)) {
            throw f.unsupported("best_of", "is not supported (use n)");
        }
    }
}
