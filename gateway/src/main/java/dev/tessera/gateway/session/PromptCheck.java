package dev.tessera.gateway.session;

import dev.tessera.api.v1.ContentPart;
import dev.tessera.scheduler.JobService;
import dev.tessera.scheduler.core.ModelCard;
import dev.tessera.scheduler.core.ModelKind;
import dev.tessera.scheduler.core.PromptBytes;
import dev.tessera.scheduler.text.ChatMessage;
import dev.tessera.scheduler.text.GenerateRequest;
import org.jspecify.annotations.Nullable;

/**
 * The bound on a text model's prompt bytes ({@link PromptBytes}, published on its {@link ModelCard}), applied at the
 * network edge so that a prompt that cannot fit the model never reaches the serving core: no waiting-queue place,
 * no input thread, no tokenizer. The gRPC methods apply it to the wire bytes before decoding
 * ({@code grpc.PromptScan}); the WebSocket bridge and the OpenAI API, whose JSON must be parsed first, apply it
 * right after parsing ({@link #refusal(JobService, GenerateRequest)},
 * {@link #refusal(JobService, dev.tessera.api.v1.GenerateRequest)}). The serving core checks the same bound again
 * for every caller, with the same message. Stateless.
 */
public final class PromptCheck {
    private PromptCheck() {
    }

    /**
     * The bound of text model {@code model} ({@code ""}: the default text model), or null when it is not a served
     * text model (the serving core answers that) or has no bound.
     */
    public static @Nullable PromptBytes bound(@Nullable JobService service, String model) {
        if (service == null) return null;
        for (ModelCard c : service.models()) {
            if (c.kind() != ModelKind.TEXT_GENERATION) continue;
            if (model.isEmpty() ? c.isDefault() : c.name().equals(model)) {
                return c.promptBytes().maxBytes() == Long.MAX_VALUE ? null : c.promptBytes();
            }
        }
        return null;
    }

    /**
     * The largest {@link PromptBytes#maxBytes()} of the served text models ({@link Long#MAX_VALUE} when one has no
     * bound, 0 when none is served): text over it fits no text model.
     */
    public static long largestBound(@Nullable JobService service) {
        if (service == null) return Long.MAX_VALUE;
        long largest = 0;
        for (ModelCard c : service.models()) {
            if (c.kind() == ModelKind.TEXT_GENERATION) largest = Math.max(largest, c.promptBytes().maxBytes());
        }
        return largest;
    }

    /** INVALID_ARGUMENT naming {@code prompt} or {@code messages[i].content} when the text cannot fit; else null. */
    public static @Nullable CallError refusal(@Nullable JobService service, GenerateRequest r) {
        PromptBytes bound = bound(service, r.model());
        if (bound == null) return null;
        if (r.prompt() != null) {
            long bytes = PromptBytes.utf8Length(r.prompt());
            return bound.exceeded(bytes) ? CallError.of(bound.failure("prompt", bytes)) : null;
        }
        if (r.messages() == null) return null;
        long bytes = 0;
        for (int i = 0; i < r.messages().size(); i++) {
            for (ChatMessage.Part p : r.messages().get(i).content()) {
                if (p instanceof ChatMessage.Part.Text t) bytes += PromptBytes.utf8Length(t.text());
            }
            if (bound.exceeded(bytes)) return CallError.of(bound.failure("messages[" + i + "].content", bytes));
        }
        return null;
    }

    /** The same for a request in its protobuf form (the WebSocket bridge's JSON, already parsed into strings). */
    public static @Nullable CallError refusal(@Nullable JobService service, dev.tessera.api.v1.GenerateRequest r) {
        PromptBytes bound = bound(service, r.getModel());
        if (bound == null) return null;
        if (r.hasPrompt()) {
            long bytes = PromptBytes.utf8Length(r.getPrompt());
            return bound.exceeded(bytes) ? CallError.of(bound.failure("prompt", bytes)) : null;
        }
        long bytes = 0;
        for (int i = 0; i < r.getMessagesCount(); i++) {
            for (ContentPart p : r.getMessages(i).getContentList()) {
                if (p.hasText()) bytes += PromptBytes.utf8Length(p.getText());
            }
            if (bound.exceeded(bytes)) return CallError.of(bound.failure("messages[" + i + "].content", bytes));
        }
        return null;
    }
}
