package dev.tessera.scheduler.text;

import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * One text generation job, as the client sent it (not yet validated). Exactly one of {@code prompt},
 * {@code promptTokenIds} and {@code messages} should be set; the input processor checks that and every other field.
 *
 * @param requestId      the caller's id, echoed in logs
 * @param model          the model's name; empty for the default text model
 * @param prompt         prompt text, tokenized by the server, or null
 * @param promptTokenIds an already tokenized prompt (unsigned wire values as longs), or null
 * @param sampling       sampling parameters
 * @param priority       lower is more important; ties go by arrival. Preemption picks the least important, newest
 * @param messages       a chat, rendered by the model's chat template (ending with the assistant's turn header) and
 *                       tokenized by the server, or null. With {@code max_tokens} unset, a chat may fill the
 *                       model's context (as in vLLM), not 16 tokens
 * @param minPixels      vision models: the fewest pixels an image is resized to (as the HF processor's
 *                       {@code min_pixels}), or null for the model's; unsigned wire value
 * @param maxPixels      vision models: the most pixels an image is resized to ({@code max_pixels}), which bounds
 *                       its patches, or null for the model's; unsigned wire value
 * @param resumeTokenIds the output tokens a broken stream of this same request already delivered, or null: the
 *                       server continues after them as if it had sampled them (positions, seeded draws,
 *                       penalties, stop strings and max_tokens all count them), so a greedy or seeded stream
 *                       resumed on another replica ends exactly as an uninterrupted one; unsigned wire values
 */
public record GenerateRequest(String requestId, String model, @Nullable String prompt,
                              long @Nullable [] promptTokenIds, Sampling sampling, int priority,
                              @Nullable List<ChatMessage> messages, @Nullable Long minPixels,
                              @Nullable Long maxPixels, long @Nullable [] resumeTokenIds) {
    public GenerateRequest {
        Objects.requireNonNull(requestId, "requestId");
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(sampling, "sampling");
        promptTokenIds = promptTokenIds == null ? null : promptTokenIds.clone();
        messages = messages == null ? null : List.copyOf(messages);
        resumeTokenIds = resumeTokenIds == null ? null : resumeTokenIds.clone();
    }

    /** A request that resumes nothing. */
    public GenerateRequest(String requestId, String model, @Nullable String prompt, long @Nullable [] promptTokenIds,
                           Sampling sampling, int priority, @Nullable List<ChatMessage> messages,
                           @Nullable Long minPixels, @Nullable Long maxPixels) {
        this(requestId, model, prompt, promptTokenIds, sampling, priority, messages, minPixels, maxPixels, null);
    }

    /** A request with the model's own image pixel bounds. */
    public GenerateRequest(String requestId, String model, @Nullable String prompt, long @Nullable [] promptTokenIds,
                           Sampling sampling, int priority, @Nullable List<ChatMessage> messages) {
        this(requestId, model, prompt, promptTokenIds, sampling, priority, messages, null, null);
    }

    /** A text or token prompt (no chat messages). */
    public GenerateRequest(String requestId, String model, @Nullable String prompt, long @Nullable [] promptTokenIds,
                           Sampling sampling, int priority) {
        this(requestId, model, prompt, promptTokenIds, sampling, priority, null);
    }

    /** A chat for the default model. */
    public static GenerateRequest ofMessages(String requestId, List<ChatMessage> messages, Sampling sampling) {
        return new GenerateRequest(requestId, "", null, null, sampling, 0, messages);
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
        return new GenerateRequest(requestId, model, prompt, promptTokenIds, sampling, p, messages, minPixels,
                maxPixels, resumeTokenIds);
    }

    /** The same request continuing after {@code delivered}, the output tokens a broken stream already sent. */
    public GenerateRequest withResume(long @Nullable [] delivered) {
        return new GenerateRequest(requestId, model, prompt, promptTokenIds, sampling, priority, messages, minPixels,
                maxPixels, delivered);
    }

    /** The same request with images resized within {@code [min, max]} pixels (null: the model's bound). */
    public GenerateRequest withPixels(@Nullable Long min, @Nullable Long max) {
        return new GenerateRequest(requestId, model, prompt, promptTokenIds, sampling, priority, messages, min, max,
                resumeTokenIds);
    }

    public GenerateRequest withModel(String m) {
        return new GenerateRequest(requestId, m, prompt, promptTokenIds, sampling, priority, messages, minPixels,
                maxPixels, resumeTokenIds);
    }
}
