package dev.tessera.gateway.grpc;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.WireFormat;
import dev.tessera.api.v1.ChatMessage;
import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.gateway.session.CallError;
import dev.tessera.scheduler.core.PromptBytes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;

/**
 * Refuses a {@code GenerateRequest} (alone, or as a {@code SessionRequest}'s {@code generate}) whose text is over its
 * model's byte bound ({@link PromptBytes}) from the message's wire bytes, before anything decodes it: a string
 * field's length is its UTF-8 byte length, read from the length prefix, and the bytes are skipped, never turned into
 * a {@code String}. So a 4 MB prompt costs the server no allocation beyond the bytes the transport already holds,
 * and never reaches the serving core.
 *
 * <p>Hand-written over protobuf's {@link CodedInputStream} because the generated parser cannot do this: protobuf-java
 * decodes every proto3 string into a {@code String} while parsing ({@code readStringRequireUtf8}), so even
 * {@code getPromptBytes()} on a parsed message would re-encode it. The walk keeps protobuf's merge rules: the last
 * {@code model} and {@code prompt} win, {@code prompt_token_ids} clears {@code prompt} (one oneof), repeated
 * {@code messages} add up across repeated {@code generate} fields, another {@code SessionRequest} kind clears the
 * generate job, an image clears its part's text; fields of another wire type are unknown fields, skipped. A message
 * the walk cannot read, a name too long to read here, an unknown model or one without a bound: no refusal, and the
 * message is decoded as usual (the decoder or the serving core answers it).
 *
 * <p>Chat text is the sum of every message's text parts, as in the serving core; the refusal names the message
 * that passes the bound ({@code messages[i].content}), found by a second walk. Stateless.
 */
final class PromptScan {
    /** Longest {@code model} or {@code request_id} read here; a longer one is left to the decoder. */
    static final int MAX_NAME_BYTES = 1024;
    private static final int SESSION_REQUEST_ID = lengthDelimited(SessionRequest.REQUEST_ID_FIELD_NUMBER);
    private static final int SESSION_GENERATE = lengthDelimited(SessionRequest.GENERATE_FIELD_NUMBER);
    private static final int MODEL = lengthDelimited(GenerateRequest.MODEL_FIELD_NUMBER);
    private static final int PROMPT = lengthDelimited(GenerateRequest.PROMPT_FIELD_NUMBER);
    private static final int PROMPT_TOKEN_IDS = lengthDelimited(GenerateRequest.PROMPT_TOKEN_IDS_FIELD_NUMBER);
    private static final int MESSAGES = lengthDelimited(GenerateRequest.MESSAGES_FIELD_NUMBER);
    private static final int CONTENT = lengthDelimited(ChatMessage.CONTENT_FIELD_NUMBER);
    private static final int TEXT = lengthDelimited(ContentPart.TEXT_FIELD_NUMBER);
    private static final int IMAGE = lengthDelimited(ContentPart.IMAGE_FIELD_NUMBER);

    private PromptScan() {
    }

    /**
     * A refused job.
     *
     * @param requestId its {@code request_id} on a Session; "" for {@code Generate}
     * @param error     INVALID_ARGUMENT naming {@code prompt} or {@code messages[i].content}
     */
    record Refusal(String requestId, CallError error) {
    }

    /**
     * The refusal of a message, or null.
     *
     * @param wire    opens the message's bytes, from the start, each time it is called
     * @param session whether the message is a {@code SessionRequest} (else a {@code GenerateRequest})
     * @param bounds  the byte bound of a model by its name ({@code ""} the default), null when none
     */
    static @Nullable Refusal refusal(Supplier<CodedInputStream> wire, boolean session,
                                     Function<String, @Nullable PromptBytes> bounds) {
        try {
            Walk w = walk(wire.get(), session, Long.MAX_VALUE);
            if ((session && !w.generate) || w.model == null || w.requestId == null) return null;
            PromptBytes bound = bounds.apply(w.model);
            if (bound == null) return null;
            if (w.promptBytes >= 0) {
                return bound.exceeded(w.promptBytes)
                        ? new Refusal(w.requestId, CallError.of(bound.failure("prompt", w.promptBytes))) : null;
            }
            if (!bound.exceeded(w.textBytes)) return null;
            Walk passing = walk(wire.get(), session, bound.maxBytes());
            return new Refusal(w.requestId, CallError.of(bound.failure("messages[" + passing.passedAt
                    + "].content", passing.passedBytes)));
        } catch (IOException e) {
            return null; // malformed: the decoder says how
        }
    }

    /**
     * What the first bytes of a {@code Generate} call's body say: a refusal, no refusal to be found this early
     * ({@link #PASS}: the whole message is read and scanned as usual), or {@link #MORE} bytes needed.
     */
    record Early(@Nullable Refusal refusal, boolean decided) {
        static final Early PASS = new Early(null, true);
        static final Early MORE = new Early(null, false);
    }

    /**
     * Looks at the first {@code len} bytes of a {@code Generate} call's body (the gRPC frame header, then the start
     * of its {@code GenerateRequest}): when the message begins with its {@code model} and then its {@code prompt},
     * as protobuf serializers write them (by field number), the prompt's length prefix is enough to refuse it, so a
     * 4 MB prompt is refused from its first HTTP/2 frame instead of after the whole message is buffered. A message
     * that begins with its {@code prompt} has no {@code model} before it (a serializer writes none for the default
     * model, the empty name), so it is for the default model unless a later {@code model} field names another: it is
     * refused when its prompt is over the default model's bound and over every text model's
     * ({@code largestBound}), which no later field can undo. Anything else (a compressed message, another field
     * first, a model the gateway does not bound, a prompt within the bound) passes: the whole message is then read
     * and {@link #refusal} or the decoder decides as before. One rule is stricter than protobuf's: a
     * {@code prompt} over the bound is refused even if a later field of the same message would replace it (the last
     * {@code prompt}, or a {@code prompt_token_ids}, wins); no client library writes such a message.
     *
     * @param bounds       the byte bound of a model by its name ({@code ""} the default), null when none
     * @param largestBound the largest {@link PromptBytes#maxBytes()} of any served text model
     */
    static Early firstBytes(byte[] head, int len, Function<String, @Nullable PromptBytes> bounds,
                            LongSupplier largestBound) {
        return firstBytes(head, len, false, bounds, largestBound);
    }

    /**
     * As {@link #firstBytes(byte[], int, Function, LongSupplier)} for a {@code Session} message: its
     * {@code request_id}, then its {@code generate} job, whose {@code model} (or, for the default model, its
     * {@code prompt}) comes first; the refusal names the request id.
     */
    static Early firstSessionBytes(byte[] head, int len, Function<String, @Nullable PromptBytes> bounds,
                                   LongSupplier largestBound) {
        return firstBytes(head, len, true, bounds, largestBound);
    }

    /** The length of the message a gRPC frame header (5 bytes at the start of {@code head}) announces. */
    static long messageLength(byte[] head) {
        return ((head[1] & 0xffL) << 24) | ((head[2] & 0xff) << 16) | ((head[3] & 0xff) << 8) | (head[4] & 0xff);
    }

    private static Early firstBytes(byte[] head, int len, boolean session,
                                    Function<String, @Nullable PromptBytes> bounds, LongSupplier largestBound) {
        if (len < 5) return Early.MORE;
        if (head[0] != 0) return Early.PASS; // compressed: inflated and scanned whole
        long messageLen = messageLength(head);
        int available = (int) Math.min(len - 5L, messageLen);
        // what the bytes so far say when they end before a field: more are needed if the message has them
        Early atEnd = available < messageLen ? Early.MORE : Early.PASS;
        CodedInputStream in = CodedInputStream.newInstance(head, 5, available);
        try {
            String requestId = "";
            long jobEnd = Long.MAX_VALUE; // where a Session's generate job ends, in bytes read
            if (session) {
                int tag = in.readTag();
                if (tag == 0) return atEnd;
                if (tag != SESSION_REQUEST_ID) return Early.PASS;
                requestId = name(in);
                if (requestId == null) return Early.PASS;
                tag = in.readTag();
                if (tag == 0) return atEnd;
                if (tag != SESSION_GENERATE) return Early.PASS;
                int jobLen = length(in);
                jobEnd = (long) in.getTotalBytesRead() + jobLen;
            }
            if (in.getTotalBytesRead() >= jobEnd) return Early.PASS; // an empty job
            int tag = in.readTag();
            if (tag == 0) return atEnd;
            boolean modelFirst = tag == MODEL;
            String model = "";
            if (modelFirst) {
                model = name(in);
                if (model == null || in.getTotalBytesRead() >= jobEnd) return Early.PASS;
                tag = in.readTag();
                if (tag == 0) return atEnd;
            }
            if (tag != PROMPT) return Early.PASS;
            int n = length(in);
            PromptBytes bound = bounds.apply(model);
            if (bound == null || !bound.exceeded(n)) return Early.PASS;
            // the prompt first: a later model field could still name another model, whose bound must not pass it
            if (!modelFirst && n <= largestBound.getAsLong()) return Early.PASS;
            return new Early(new Refusal(requestId, CallError.of(bound.failure("prompt", n))), true);
        } catch (IOException e) {
            return atEnd; // the bytes so far end inside a name or a length
        }
    }

    /** What one walk found. */
    private static final class Walk {
        /** Text bytes past which the message that passes them is noted. */
        final long stopAt;
        /** Null when too long to read here. */
        @Nullable String requestId = "";
        /** A Session's kind is {@code generate}. */
        boolean generate;
        @Nullable String model = "";
        /** The prompt's bytes; -1 when the input is not a prompt. */
        long promptBytes = -1;
        long textBytes;
        int messages;
        int passedAt = -1;
        long passedBytes;

        Walk(long stopAt) {
            this.stopAt = stopAt;
        }

        void clearGenerate() {
            model = "";
            promptBytes = -1;
            textBytes = 0;
            messages = 0;
            passedAt = -1;
            passedBytes = 0;
        }
    }

    private static Walk walk(CodedInputStream in, boolean session, long stopAt) throws IOException {
        Walk w = new Walk(stopAt);
        if (session) {
            walkSession(in, w);
        } else {
            w.generate = true;
            walkGenerate(in, w);
        }
        return w;
    }

    private static void walkSession(CodedInputStream in, Walk w) throws IOException {
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (tag == SESSION_REQUEST_ID) {
                w.requestId = name(in);
            } else if (tag == SESSION_GENERATE) {
                if (!w.generate) {
                    w.clearGenerate();
                    w.generate = true;
                }
                int limit = in.pushLimit(length(in));
                walkGenerate(in, w);
                in.popLimit(limit);
            } else {
                if (otherKind(tag)) w.generate = false;
                in.skipField(tag);
            }
        }
    }

    private static void walkGenerate(CodedInputStream in, Walk w) throws IOException {
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (tag == MODEL) {
                w.model = name(in);
            } else if (tag == PROMPT) {
                int n = length(in);
                in.skipRawBytes(n);
                w.promptBytes = n;
            } else if (tag == PROMPT_TOKEN_IDS) {
                w.promptBytes = -1;
                in.skipField(tag);
            } else if (tag == MESSAGES) {
                int limit = in.pushLimit(length(in));
                w.textBytes += messageText(in);
                in.popLimit(limit);
                if (w.passedAt < 0 && w.textBytes > w.stopAt) {
                    w.passedAt = w.messages;
                    w.passedBytes = w.textBytes;
                }
                w.messages++;
            } else {
                in.skipField(tag);
            }
        }
    }

    /** The bytes of a {@code ChatMessage}'s text parts. */
    private static long messageText(CodedInputStream in) throws IOException {
        long bytes = 0;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (tag == CONTENT) {
                int limit = in.pushLimit(length(in));
                bytes += partText(in);
                in.popLimit(limit);
            } else {
                in.skipField(tag);
            }
        }
        return bytes;
    }

    /** The bytes of a {@code ContentPart}'s text: 0 for an image (the last of the oneof wins). */
    private static long partText(CodedInputStream in) throws IOException {
        long text = 0;
        for (int tag = in.readTag(); tag != 0; tag = in.readTag()) {
            if (tag == TEXT) {
                int n = length(in);
                in.skipRawBytes(n);
                text = n;
            } else {
                if (tag == IMAGE) text = 0;
                in.skipField(tag);
            }
        }
        return text;
    }

    private static boolean otherKind(int tag) {
        FieldDescriptor f = SessionRequest.getDescriptor().findFieldByNumber(WireFormat.getTagFieldNumber(tag));
        return f != null && f.getRealContainingOneof() != null
                && WireFormat.getTagWireType(tag) == WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }

    private static @Nullable String name(CodedInputStream in) throws IOException {
        int n = length(in);
        if (n > MAX_NAME_BYTES) {
            in.skipRawBytes(n);
            return null;
        }
        return new String(in.readRawBytes(n), StandardCharsets.UTF_8);
    }

    private static int length(CodedInputStream in) throws IOException {
        int n = in.readRawVarint32();
        if (n < 0) throw new IOException("negative length");
        return n;
    }

    private static int lengthDelimited(int field) {
        return (field << 3) | WireFormat.WIRETYPE_LENGTH_DELIMITED;
    }
}
