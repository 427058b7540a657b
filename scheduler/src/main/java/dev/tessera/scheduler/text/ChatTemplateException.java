package dev.tessera.scheduler.text;

/**
 * A chat template refused the messages (its {@code raise_exception}, e.g. "Conversation roles must alternate") or
 * could not render them. The message is the template's own words, or says what went wrong where.
 */
public final class ChatTemplateException extends RuntimeException {
    public ChatTemplateException(String message) {
        super(message, null, false, false);
    }
}
