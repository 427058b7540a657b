package dev.tessera.gateway;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.google.protobuf.ByteString;
import dev.tessera.api.v1.ChatMessage;
import dev.tessera.api.v1.ContentPart;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.Image;
import dev.tessera.api.v1.ImageFormat;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.engine.text.TextEngineOptions;
import dev.tessera.scheduler.text.TextConfig;
import io.grpc.ManagedChannel;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A chat with an image through a real server on loopback, serving the engine's tiny Qwen2-VL conformance fixture
 * (transformers 5.24): over gRPC ({@code messages} with an {@code Image} content part) the 32 greedy tokens are
 * HF {@code generate}'s; over {@code /v1/chat/completions} (an {@code image_url} part with a base64 {@code data:}
 * URL) the text is the same; a remote URL, a corrupt image and an unset content part are refused naming the field.
 */
@Timeout(180)
class GatewayVisionTest {
    static final Path FIXTURE = Path.of("../engine/src/test/resources/fixtures/qwen2-vl");
    static final Path IMAGES = Path.of("../engine/src/test/resources/fixtures/qwen2-vl-images");

    @TempDir
    static Path cache;
    static TesseraServer server;
    static ManagedChannel channel;
    static JsonObject oneImage;
    static byte[] square;

    @BeforeAll
    static void start() throws Exception {
        JsonObject golden = new JsonObject(Files.readString(FIXTURE.resolve("golden.json")));
        for (Object c : golden.getJsonArray("cases")) {
            if (((JsonObject) c).getString("name").equals("one-image")) oneImage = (JsonObject) c;
        }
        square = Files.readAllBytes(IMAGES.resolve("square.png"));
        TextEngineOptions engine = TextEngineOptions.defaults(FIXTURE).withName("qwen2-vl").withCacheDir(cache)
                .withKvMemoryBytes(8L << 20).withThreads(2).withMaxBatchTokens(256).withMaxSeqs(16);
        server = TesseraServer.start(GatewayTestSupport.loopback(), new ModelSpec.Text(engine,
                TextConfig.defaults().withMaxNumSeqs(16).withMaxBatchTokens(256)));
        channel = GatewayTestSupport.channel(server.gateway());
    }

    @AfterAll
    static void stop() throws InterruptedException {
        if (channel != null) channel.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
        if (server != null) server.close();
    }

    static GenerateRequest chat(ContentPart... parts) {
        return GenerateRequest.newBuilder().addMessages(ChatMessage.newBuilder().setRole("user")
                        .addAllContent(List.of(parts)))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(32).setIgnoreEos(true)).build();
    }

    static ContentPart text(String t) {
        return ContentPart.newBuilder().setText(t).build();
    }

    static ContentPart image(byte[] data, ImageFormat format) {
        return ContentPart.newBuilder().setImage(Image.newBuilder().setData(ByteString.copyFrom(data))
                .setFormat(format)).build();
    }

    @Test
    void grpcAndOpenAiChatsWithAnImageGiveTransformersGreedyTokens() throws Exception {
        List<Integer> ids = new ArrayList<>();
        StringBuilder text = new StringBuilder();
        Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel)
                .generate(chat(text("What is in this image?"), image(square, ImageFormat.IMAGE_FORMAT_PNG)));
        while (it.hasNext()) {
            GenerateResponse r = it.next();
            if (r.hasDelta()) {
                ids.addAll(r.getDelta().getTokenIdsList());
                text.append(r.getDelta().getText());
            }
        }
        List<Integer> want = new ArrayList<>();
        for (Object o : oneImage.getJsonArray("greedy_ids")) want.add(((Number) o).intValue());
        assertEquals(want, ids, "gRPC: HF generate's greedy tokens");

        JsonObject body = new JsonObject().put("model", "qwen2-vl").put("max_tokens", 32).put("ignore_eos", true)
                .put("messages", new JsonArray().add(new JsonObject().put("role", "user").put("content",
                        new JsonArray().add(new JsonObject().put("type", "text").put("text", "What is in this image?"))
                                .add(new JsonObject().put("type", "image_url").put("image_url", new JsonObject()
                                        .put("url", "data:image/png;base64,"
                                                + Base64.getEncoder().encodeToString(square)))))));
        HttpResponse<String> r = post(body);
        assertEquals(200, r.statusCode(), r.body());
        JsonObject answer = new JsonObject(r.body());
        assertEquals(text.toString(), answer.getJsonArray("choices").getJsonObject(0).getJsonObject("message")
                .getString("content"), "OpenAI: the same text");
        assertEquals(32, answer.getJsonObject("usage").getInteger("completion_tokens"));
        assertEquals(oneImage.getJsonArray("input_ids").size(), answer.getJsonObject("usage")
                .getInteger("prompt_tokens"), "the image's placeholders are prompt tokens");
    }

    @Test
    void listingsSayWhichModelTakesImages() throws Exception {
        var models = InferenceGrpc.newBlockingStub(channel).listModels(
                dev.tessera.api.v1.ListModelsRequest.getDefaultInstance()).getModelsList();
        assertEquals(1, models.size());
        assertTrue(models.get(0).getTakesImages(), models.toString());
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        JsonObject list = new JsonObject(http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:"
                + server.gateway().port() + "/v1/models")).build(), HttpResponse.BodyHandlers.ofString()).body());
        assertEquals(new JsonArray().add("text").add("image"), list.getJsonArray("data").getJsonObject(0)
                .getJsonArray("input_modalities"));
    }

    static HttpResponse<String> post(JsonObject body) throws Exception {
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                .connectTimeout(Duration.ofSeconds(10)).build();
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.gateway().port()
                        + "/v1/chat/completions")).header("content-type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.encode())).build(), HttpResponse.BodyHandlers.ofString());
    }

    static StatusRuntimeException fails(GenerateRequest request) {
        return assertThrows(StatusRuntimeException.class, () -> {
            Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel).generate(request);
            while (it.hasNext()) it.next();
        });
    }

    @Test
    void badImagesAreRefusedNamingTheField() throws Exception {
        byte[] corrupt = java.util.Arrays.copyOf(square, square.length / 3);
        StatusRuntimeException e = fails(chat(text("see"), image(corrupt, ImageFormat.IMAGE_FORMAT_PNG)));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(String.valueOf(e.getStatus().getDescription()).contains("messages[0].content[1].image"),
                e.getStatus().toString());

        e = fails(chat(text("see"), ContentPart.getDefaultInstance()));
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(String.valueOf(e.getStatus().getDescription()).contains("messages[0].content[1]"),
                e.getStatus().toString());

        e = fails(chat(image(square, ImageFormat.IMAGE_FORMAT_PNG)).toBuilder().setMinPixels(0).build());
        assertEquals(Status.Code.INVALID_ARGUMENT, e.getStatus().getCode());
        assertTrue(String.valueOf(e.getStatus().getDescription()).contains("min_pixels"), e.getStatus().toString());

        JsonObject remote = new JsonObject().put("messages", new JsonArray().add(new JsonObject().put("role", "user")
                .put("content", new JsonArray().add(new JsonObject().put("type", "image_url")
                        .put("image_url", new JsonObject().put("url", "https://example.com/cat.png"))))));
        HttpResponse<String> r = post(remote);
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("messages[0].content[0].image_url.url", new JsonObject(r.body()).getJsonObject("error")
                .getString("param"));

        // refused by the serving core, named as this API's fields
        JsonObject broken = new JsonObject().put("messages", new JsonArray().add(new JsonObject().put("role", "user")
                .put("content", new JsonArray().add(new JsonObject().put("type", "text").put("text", "see"))
                        .add(new JsonObject().put("type", "image_url").put("image_url", new JsonObject()
                                .put("url", "data:image/png;base64," + Base64.getEncoder().encodeToString(corrupt)))))))
                .put("model", "qwen2-vl");
        r = post(broken);
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("messages[0].content[1].image_url.url", new JsonObject(r.body()).getJsonObject("error")
                .getString("param"), r.body());
        r = post(broken.copy().put("mm_processor_kwargs", new JsonObject().put("max_pixels", 10)));
        assertEquals(400, r.statusCode(), r.body());
        assertEquals("mm_processor_kwargs.max_pixels", new JsonObject(r.body()).getJsonObject("error")
                .getString("param"), r.body());
    }
}
