package dev.tessera.loadtest.workload;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One request of a workload: a prompt, or chat messages (role, text, images), and the tokens to generate at most.
 *
 * @param prompt      the prompt; null for a chat
 * @param messages    the chat messages; empty for a prompt
 * @param maxTokens   max_tokens
 * @param ignoreEos   keep generating past end-of-sequence, so that the output has exactly maxTokens tokens
 * @param inputLength the nominal prompt length (words for synthetic prompts), -1 when unknown
 */
public record LoadRequest(@Nullable String prompt, List<Message> messages, int maxTokens, boolean ignoreEos,
                          int inputLength) {
    public LoadRequest {
        messages = List.copyOf(messages);
        if ((prompt == null) == messages.isEmpty()) {
            throw new IllegalArgumentException("a request has a prompt or messages, exactly one");
        }
        if (maxTokens < 1) throw new IllegalArgumentException("max_tokens must be >= 1, got " + maxTokens);
    }

    /** One chat message: its images (placed before the text, as {@code generate --image} does), then its text. */
    public record Message(String role, String content, List<ChatImage> images) {
        public Message {
            images = List.copyOf(images);
        }

        /** A text-only message. */
        public Message(String role, String content) {
            this(role, content, List.of());
        }
    }
}
