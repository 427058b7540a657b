package dev.tessera.scheduler;

import dev.tessera.engine.text.sampling.SamplingParams;

/**
 * One text generation job.
 *
 * @param requestId      caller's id, echoed in logs and errors
 * @param prompt         prompt text; ignored when {@code promptTokenIds} is given
 * @param promptTokenIds already tokenized prompt, or null
 * @param params         sampling parameters (validated at submission)
 * @param priority       lower value = more important; ties broken by arrival. Preemption picks the least important,
 *                       newest running sequence
 */
public record GenerateRequest(String requestId, String prompt, int[] promptTokenIds, SamplingParams params,
                              int priority) {
    public static GenerateRequest of(String requestId, String prompt, SamplingParams params) {
        return new GenerateRequest(requestId, prompt, null, params, 0);
    }
}
