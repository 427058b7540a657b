package dev.tessera.gateway.grpc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedInputStream;
import com.google.protobuf.CodedOutputStream;
import dev.tessera.api.v1.ChatMessage;
import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.SessionRequest;
import dev.tessera.api.v1.TokenIds;
import dev.tessera.scheduler.core.PromptBytes;
import io.vertx.core.buffer.Buffer;
import java.io.ByteArrayOutputStream;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;

/** The wire-bytes check of a request's text against its model's byte bound, and protobuf's merge rules in it. */
class PromptScanTest {
    /** "m": 10 bytes a token, 9 tokens: at most 90 bytes. "free": no bound. */
    private static final Map<String, PromptBytes> BOUNDS = Map.of("m", new PromptBytes(10, 9, 10),
            "", new PromptBytes(10, 9, 10));

    private static PromptScan.@Nullable Refusal scan(byte[] bytes, boolean session) {
        // read through BufferInput, as the gateway reads a message where it lies
        Buffer buffer = Buffer.buffer(bytes);
        return PromptScan.refusal(() -> CodedInputStream.newInstance(new BufferInput(buffer), 16), session,
                BOUNDS::get);
    }

    private static GenerateRequest.Builder prompt(String model, int bytes) {
        return GenerateRequest.newBuilder().setModel(model).setPrompt("é".repeat(bytes / 2) + "a".repeat(bytes % 2));
    }

    private static ChatMessage text(String role, int bytes) {
        return ChatMessage.newBuilder().setRole(role).addContent(ContentPart.newBuilder().setText("x".repeat(bytes)))
                .build();
    }

    @Test
    void aPromptOverTheBoundIsRefusedByItsByteLength() {
        assertNull(scan(prompt("m", 90).build().toByteArray(), false));
        PromptScan.Refusal r = scan(prompt("m", 91).build().toByteArray(), false);
        assertNotNull(r);
        assertEquals("prompt", r.error().field());
        assertEquals("prompt: 91 bytes of text exceed the limit of 90 bytes: they are at least 10 tokens (no token"
                + " stands for more than 10 bytes), over the limit of 9 (the model's context length is 10)",
                r.error().message());
        assertEquals("prompt", scan(prompt("", 91).build().toByteArray(), false).error().field(), "default model");
        assertNull(scan(prompt("free", 4000).build().toByteArray(), false), "a model without a bound");
        assertNull(scan(prompt("nope", 4000).build().toByteArray(), false), "an unknown model: the core answers");
    }

    @Test
    void aChatIsRefusedBySumOfItsTextNamingTheMessageThatPassesIt() {
        Image image = Image.newBuilder().setData(ByteString.copyFrom(new byte[500])).build();
        GenerateRequest chat = GenerateRequest.newBuilder().setModel("m").addMessages(text("system", 40))
                .addMessages(ChatMessage.newBuilder().setRole("user").addContent(ContentPart.newBuilder()
                        .setImage(image))) // images do not count
                .addMessages(text("user", 50)).build();
        assertNull(scan(chat.toByteArray(), false));
        PromptScan.Refusal r = scan(chat.toBuilder().addMessages(text("user", 1)).addMessages(text("user", 5))
                .build().toByteArray(), false);
        assertEquals("messages[3].content", r.error().field());
        assertTrue(r.error().message().startsWith("messages[3].content: 91 bytes of text exceed"), r.error().message());
    }

    @Test
    void aSessionJobIsRefusedWithItsRequestId() {
        byte[] message = SessionRequest.newBuilder().setRequestId("big").setGenerate(prompt("m", 200)).build()
                .toByteArray();
        PromptScan.Refusal r = scan(message, true);
        assertEquals("big", r.requestId());
        assertEquals("prompt", r.error().field());
        assertNull(scan(SessionRequest.newBuilder().setRequestId("c").setCancel(
                dev.tessera.api.v1.Cancel.getDefaultInstance()).build().toByteArray(), true));
    }

    @Test
    void protobufMergeRulesHold() throws Exception {
        // the last prompt wins; prompt_token_ids clears the prompt (one oneof)
        assertNull(scan(concat(prompt("m", 200).build(), prompt("m", 10).build()), false));
        assertNotNull(scan(concat(prompt("m", 10).build(), prompt("m", 200).build()), false));
        assertNull(scan(concat(prompt("m", 200).build(), GenerateRequest.newBuilder()
                .setPromptTokenIds(TokenIds.newBuilder().addIds(1)).build()), false));
        // the last model wins
        assertNull(scan(concat(prompt("m", 200).build(), GenerateRequest.newBuilder().setModel("free").build()),
                false));
        // an image after a text in one part replaces it
        byte[] textThenImage = chatWithOnePart(concat(ContentPart.newBuilder().setText("x".repeat(200)).build(),
                ContentPart.newBuilder().setImage(Image.getDefaultInstance()).build()));
        assertTrue(GenerateRequest.parseFrom(textThenImage).getMessages(0).getContent(0).hasImage());
        assertNull(scan(textThenImage, false));
        assertNotNull(scan(chatWithOnePart(concat(ContentPart.newBuilder().setImage(Image.getDefaultInstance())
                .build(), ContentPart.newBuilder().setText("x".repeat(200)).build())), false));
        // messages of repeated generate fields add up; another kind clears the generate job
        SessionRequest half = SessionRequest.newBuilder().setRequestId("s").setGenerate(GenerateRequest.newBuilder()
                .setModel("m").addMessages(text("user", 60))).build();
        PromptScan.Refusal r = scan(concat(half, half), true);
        assertEquals("messages[1].content", r.error().field());
        assertNull(scan(concat(half, half, SessionRequest.newBuilder().setCancel(
                dev.tessera.api.v1.Cancel.getDefaultInstance()).build()), true));
    }

    @Test
    void whatTheScanCannotReadIsLeftToTheDecoder() {
        byte[] truncated = prompt("m", 200).build().toByteArray();
        assertNull(scan(java.util.Arrays.copyOf(truncated, 50), false));
        assertNull(scan(prompt("m".repeat(PromptScan.MAX_NAME_BYTES + 1), 200).build().toByteArray(), false));
    }

    /** A chat for model "m" of one message whose one content part is {@code part} (raw bytes). */
    /** A gRPC frame of {@code message}, its first {@code keep} bytes (header included), as the first chunks hold it. */
    private static PromptScan.Early firstBytes(byte[] message, boolean compressed, int keep) {
        byte[] frame = frame(message);
        frame[0] = (byte) (compressed ? 1 : 0);
        int len = Math.min(keep, frame.length);
        return PromptScan.firstBytes(java.util.Arrays.copyOf(frame, len), len, BOUNDS::get, () -> 90);
    }

    @Test
    void aPromptAfterItsModelIsRefusedFromItsLengthPrefixAlone() throws java.io.IOException {
        byte[] big = prompt("m", 4000).build().toByteArray();
        // header 5 + model (tag, length, "m") 3 + prompt tag 1 + length varint 2: refused with the prompt unread
        PromptScan.Early early = firstBytes(big, false, 11);
        assertTrue(early.decided());
        assertNotNull(early.refusal());
        assertEquals(scan(big, false).error().message(), early.refusal().error().message(),
                "the same refusal as from the whole message");
        // fewer bytes: undecided, more are needed
        for (int keep = 0; keep < 11; keep++) {
            assertEquals(PromptScan.Early.MORE, firstBytes(big, false, keep), "first " + keep + " bytes");
        }
        // within the bound, another field first, no bound, compressed: left to the whole message
        assertEquals(PromptScan.Early.PASS, firstBytes(prompt("m", 90).build().toByteArray(), false, 11));
        assertEquals(PromptScan.Early.PASS, firstBytes(samplingThenPrompt(4000), false, 64), "sampling first");
        assertEquals(PromptScan.Early.PASS, firstBytes(prompt("free", 4000).build().toByteArray(), false, 64));
        assertEquals(PromptScan.Early.PASS, firstBytes(big, true, 64), "compressed");
        assertEquals(PromptScan.Early.PASS, firstBytes(GenerateRequest.newBuilder().setModel("m").build()
                .toByteArray(), false, 64), "a whole message without a prompt");
    }

    @Test
    void aPromptWithNoModelBeforeItIsForTheDefaultModelAndRefusedWhenNoModelCouldTakeIt() {
        // what a client writes for the default model: no model field, the prompt first
        byte[] big = GenerateRequest.newBuilder().setPrompt("x".repeat(4000)).build().toByteArray();
        PromptScan.Early early = firstBytes(big, false, 8); // header 5 + prompt tag 1 + length varint 2
        assertNotNull(early.refusal());
        assertEquals(scan(big, false).error().message(), early.refusal().error().message(),
                "the same refusal as from the whole message");
        assertEquals(PromptScan.Early.MORE, firstBytes(big, false, 7));
        assertEquals(PromptScan.Early.PASS, firstBytes(GenerateRequest.newBuilder().setPrompt("x".repeat(90)).build()
                .toByteArray(), false, 64), "within the default model's bound");
        // another served model takes more: a later model field could name it, so the whole message decides
        byte[] frame = frame(big);
        assertEquals(PromptScan.Early.PASS, PromptScan.firstBytes(frame, 64, BOUNDS::get, () -> 5000));
        assertNotNull(PromptScan.firstBytes(frame, 64, BOUNDS::get, () -> 3999).refusal());
        // and a Session's job for the default model, its prompt right after the job's tag and length
        byte[] job = SessionRequest.newBuilder().setRequestId("r2").setGenerate(GenerateRequest.newBuilder()
                .setPrompt("x".repeat(4000))).build().toByteArray();
        PromptScan.Early session = PromptScan.firstSessionBytes(frame(job), 20, BOUNDS::get, () -> 90);
        assertNotNull(session.refusal());
        assertEquals("r2", session.refusal().requestId());
        assertEquals(scan(job, true).error().message(), session.refusal().error().message());
    }

    /** A request whose sampling field comes before its prompt (no serializer writes this order, a client may). */
    private static byte[] samplingThenPrompt(int promptBytes) throws java.io.IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        CodedOutputStream o = CodedOutputStream.newInstance(out);
        o.writeMessage(GenerateRequest.SAMPLING_FIELD_NUMBER,
                dev.tessera.api.v1.SamplingParams.newBuilder().setMaxTokens(4).build());
        o.writeString(GenerateRequest.PROMPT_FIELD_NUMBER, "x".repeat(promptBytes));
        o.flush();
        return out.toByteArray();
    }

    /** An uncompressed gRPC frame of {@code message}. */
    private static byte[] frame(byte[] message) {
        byte[] frame = new byte[5 + message.length];
        frame[1] = (byte) (message.length >>> 24);
        frame[2] = (byte) (message.length >>> 16);
        frame[3] = (byte) (message.length >>> 8);
        frame[4] = (byte) message.length;
        System.arraycopy(message, 0, frame, 5, message.length);
        return frame;
    }

    @Test
    void aSessionJobsPromptIsRefusedFromItsFirstBytesNamingTheRequest() {
        byte[] big = SessionRequest.newBuilder().setRequestId("r1").setGenerate(prompt("m", 4000)).build()
                .toByteArray();
        byte[] frame = frame(big);
        // header 5 + request_id 4 + generate tag and length 3 + model 3 + prompt tag 1 + length 2
        PromptScan.Early early = PromptScan.firstSessionBytes(frame, 18, BOUNDS::get, () -> 90);
        assertNotNull(early.refusal());
        assertEquals("r1", early.refusal().requestId());
        assertEquals(scan(big, true).error().message(), early.refusal().error().message());
        assertEquals(PromptScan.Early.MORE, PromptScan.firstSessionBytes(frame, 17, BOUNDS::get, () -> 90));
        // another kind of job, or the job before its id: left to the whole message
        byte[] cancel = SessionRequest.newBuilder().setRequestId("r1")
                .setCancel(dev.tessera.api.v1.Cancel.getDefaultInstance()).build().toByteArray();
        assertEquals(PromptScan.Early.PASS, firstSession(cancel));
        assertEquals(PromptScan.Early.PASS, firstSession(concat(SessionRequest.newBuilder()
                .setGenerate(prompt("m", 4000)).build(), SessionRequest.newBuilder().setRequestId("r1").build())));
    }

    private static PromptScan.Early firstSession(byte[] message) {
        byte[] frame = frame(message);
        return PromptScan.firstSessionBytes(frame, frame.length, BOUNDS::get, () -> 90);
    }

    private static byte[] chatWithOnePart(byte[] part) throws java.io.IOException {
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        CodedOutputStream m = CodedOutputStream.newInstance(message);
        m.writeString(ChatMessage.ROLE_FIELD_NUMBER, "user");
        m.writeByteArray(ChatMessage.CONTENT_FIELD_NUMBER, part);
        m.flush();
        ByteArrayOutputStream request = new ByteArrayOutputStream();
        CodedOutputStream r = CodedOutputStream.newInstance(request);
        r.writeString(GenerateRequest.MODEL_FIELD_NUMBER, "m");
        r.writeByteArray(GenerateRequest.MESSAGES_FIELD_NUMBER, message.toByteArray());
        r.flush();
        return request.toByteArray();
    }

    private static byte[] concat(com.google.protobuf.MessageLite... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (com.google.protobuf.MessageLite p : parts) out.writeBytes(p.toByteArray());
        return out.toByteArray();
    }
}
