package dev.tessera.loadtest.transport;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.loadtest.workload.ChatImage;
import dev.tessera.loadtest.workload.LoadRequest;
import java.util.List;
import org.junit.jupiter.api.Test;

/** A request on each wire: prompts, chats, and chats with images (images first, then the text). */
class RequestsTest {
    private static final ChatImage PNG = ChatImage.of(new byte[] {1, 2, 3}, "image/png");

    @Test
    void aChatWithAnImageIsAnImagePartThenATextPart() {
        LoadRequest r = new LoadRequest(null, List.of(new LoadRequest.Message("user", "What is this?",
                List.of(PNG))), 8, true, 3);
        GenerateRequest grpc = Requests.grpc(r, "vlm-tiny");
        assertEquals("vlm-tiny", grpc.getModel());
        List<ContentPart> parts = grpc.getMessages(0).getContentList();
        assertEquals(ImageFormat.IMAGE_FORMAT_PNG, parts.get(0).getImage().getFormat());
        assertEquals(PNG.data(), parts.get(0).getImage().getData());
        assertEquals("What is this?", parts.get(1).getText());
        assertEquals(8, grpc.getSampling().getMaxTokens());
        assertTrue(grpc.getSampling().getIgnoreEos());

        String json = Requests.openAi(r, "vlm-tiny");
        assertTrue(json.contains("\"content\":[{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
                + "AQID\"}},{\"type\":\"text\",\"text\":\"What is this?\"}]"), json);
        assertTrue(json.contains("\"stream\":true,\"stream_options\":{\"include_usage\":true}"), json);
    }

    @Test
    void aPromptIsAPromptAndAnEmptyModelIsLeftToTheServer() {
        LoadRequest r = new LoadRequest("Hello \"you\"", List.of(), 4, false, -1);
        assertEquals("Hello \"you\"", Requests.grpc(r, "").getPrompt());
        String json = Requests.openAi(r, "");
        assertFalse(json.contains("\"model\""), json);
        assertTrue(json.startsWith("{\"prompt\":\"Hello \\\"you\\\"\",\"max_tokens\":4,\"temperature\":0,"
                + "\"ignore_eos\":false"), json);
    }
}
