package dev.tessera.scheduler.text;

import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One text generation job, as the client sent it (not yet validated). Exactly one of {@code prompt} and
 * {@code promptTokenIds} should be set; the input processor checks that and every other field.
 *
 * @param requestId      the caller's id, echoed in logs
 * @param model          the model's name; empty for the default text model
 * @param prompt         prompt text, tokenized by the server, or null
 * @param promptTokenIds an already tokenized prompt (unsigned wire values as longs), or null
 * @param sampling       sampling parameters
 * @param priority       lower is more important; ties go by arrival. Preemption picks the least important, newest
 */
public record GenerateRequest(String requestId, String model, @Nullable String prompt,
                              long @Nullable [] promptTokenIds, Sampling sampling, int priority) {
    public GenerateRequest {
        Objects.requireNonNull(requestId, "requestId");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(sampling, "sampling");
        promptTokenIds = promptTokenIds == null ? null : promptTokenIds.clone();
    }

    /** A text prompt for the default model. */
    public static GenerateRequest of(String requestId, String prompt, Sampling sampling) {
        return new GenerateRequest(requestId, "", prompt, null, sampling, 0);
    }

    /** A tokenized prompt for the default model. */
    public static GenerateRequest ofTokens(String requestId, int[] ids, Sampling sampling) {
        long[] wide = new long[ids.length];
        for (int i = 0; i < ids.length; i++) wide[i] = ids[i];
        return new GenerateRequest(requestId, "", null, wide, sampling, 0);
    }

    public GenerateRequest withPriority(int p) {
        return new GenerateRequest(requestId, model, prompt, promptTokenIds, sampling, p);
    }

    public GenerateRequest withModel(String m) {
        return new GenerateRequest(requestId, m, prompt, promptTokenIds, sampling, priority);
    }
}
