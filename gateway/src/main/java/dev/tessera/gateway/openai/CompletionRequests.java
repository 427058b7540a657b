package dev.tessera.gateway.openai;

import dev.tessera.scheduler.text.GenerateRequest;
import dev.tessera.scheduler.text.Sampling;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import org.jspecify.annotations.Nullable;

/**
 * {@code POST /v1/completions} to a domain request. {@code prompt} is a string or token ids, or a one-item array
 * of either (batches of prompts are refused: send one request each). {@code logprobs} is the number of
 * alternatives per token (0 returns the sampled token's alone); {@code echo} and {@code suffix} are refused.
 */
final class CompletionRequests {
    private CompletionRequests() {
    }

    static ApiRequest map(String requestId, JsonObject body) {
        JsonFields f = new JsonFields(body);
        String model = f.optString("model");
        if (Boolean.TRUE.equals(f.optBool("echo"))) throw f.unsupported("echo", "is not supported");
        String suffix = f.optString("suffix");
        if (suffix != null && !suffix.isEmpty()) throw f.unsupported("suffix", "is not supported");
        Sampling.Builder sampling = SamplingFields.sampling(f);
        Long logprobs = f.optLong("logprobs");
        if (logprobs != null) sampling.logprobs(logprobs < 0 ? logprobs : Math.max(1, logprobs));
        String prompt = null;
        long[] ids = null;
        Object p = prompt(f);
        if (p instanceof String s) {
            prompt = s;
        } else if (p instanceof long[] l) {
            ids = l;
        }
        GenerateRequest job = new GenerateRequest(requestId, model == null ? "" : model, prompt, ids,
                sampling.build(), 0);
        return new ApiRequest(Endpoint.COMPLETION, job, SamplingFields.stream(f), SamplingFields.includeUsage(f),
                logprobs != null, logprobs == null ? 0 : (int) Math.max(0, Math.min(logprobs, Integer.MAX_VALUE)),
                SamplingFields.maxTokensParam(f));
    }

    /** The prompt as a String or long[] token ids; null when absent (the core answers "prompt: ..."). */
    private static @Nullable Object prompt(JsonFields f) {
        Object v = f.raw("prompt");
        if (v == null || v instanceof String) return v;
        if (!(v instanceof JsonArray a)) {
            throw ApiError.invalid("prompt", "must be a string, an array of token ids, or an array of one of"
                    + " those").exception();
        }
        if (!a.isEmpty() && (a.getValue(0) instanceof String || a.getValue(0) instanceof JsonArray)) {
            if (a.size() > 1) {
                throw ApiError.invalid("prompt", a.size() + " prompts in one request are not supported; send one"
                        + " request per prompt").exception();
            }
            Object only = a.getValue(0);
            return only instanceof String ? only : ids((JsonArray) only);
        }
        return ids(a);
    }

    private static long[] ids(JsonArray a) {
        long[] ids = new long[a.size()];
        for (int i = 0; i < ids.length; i++) {
            Object v = a.getValue(i);
            if (!(v instanceof Integer || v instanceof Long)) {
                throw ApiError.invalid("prompt", "token " + i + " must be an integer id").exception();
            }
            ids[i] = ((Number) v).longValue();
        }
        return ids;
    }
}
