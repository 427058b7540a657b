package dev.tessera.gateway.openai;

import dev.tessera.scheduler.text.GenerateRequest;
import java.util.Objects;

/**
 * A mapped request to {@code /v1/completions} or {@code /v1/chat/completions}: the serving core's job, and how
 * the answer is to be written.
 *
 * @param endpoint       which API it came in on
 * @param job            the domain request (not yet validated)
 * @param stream         server-sent events, or one JSON response
 * @param includeUsage   streaming: end with a usage chunk ({@code stream_options.include_usage})
 * @param logprobs       whether each token's log-probability is returned
 * @param topLogprobs    alternatives returned with each token (the core is asked for at least one whenever
 *                       {@code logprobs}, since it returns the sampled token's with its alternatives)
 * @param maxTokensParam the output-length field the client used, for errors
 */
record ApiRequest(Endpoint endpoint, GenerateRequest job, boolean stream, boolean includeUsage, boolean logprobs,
                  int topLogprobs, String maxTokensParam) {
    ApiRequest {
        Objects.requireNonNull(endpoint, "endpoint");
        Objects.requireNonNull(job, "job");
        Objects.requireNonNull(maxTokensParam, "maxTokensParam");
    }
}
