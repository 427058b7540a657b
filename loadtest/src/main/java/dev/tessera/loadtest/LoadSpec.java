package dev.tessera.loadtest;

import java.util.List;

/**
 * A generate workload.
 *
 * @param clients           concurrent clients, each on its own HTTP/2 connection
 * @param requestsPerClient requests each client sends, one after the other
 * @param prompts           prompts, used round-robin by request number
 * @param maxTokens         max_tokens of every request
 * @param ignoreEos         generate exactly maxTokens tokens (so every run does the same work)
 */
public record LoadSpec(int clients, int requestsPerClient, List<String> prompts, int maxTokens, boolean ignoreEos) {
    public LoadSpec {
        if (clients < 1) {
            throw new IllegalArgumentException("clients must be >= 1, got " + clients);
        }
        if (requestsPerClient < 1) {
            throw new IllegalArgumentException("requestsPerClient must be >= 1, got " + requestsPerClient);
        }
        if (prompts.isEmpty()) {
            throw new IllegalArgumentException("prompts must not be empty");
        }
        if (maxTokens < 1) {
            throw new IllegalArgumentException("maxTokens must be >= 1, got " + maxTokens);
        }
        prompts = List.copyOf(prompts);
    }

    /** The prompt of request {@code i} of client {@code client}. */
    public String prompt(int client, int i) {
        return prompts.get((client * requestsPerClient + i) % prompts.size());
    }

    public int totalRequests() {
        return clients * requestsPerClient;
    }
}
