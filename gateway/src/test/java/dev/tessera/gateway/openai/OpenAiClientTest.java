package dev.tessera.gateway.openai;

import static dev.tessera.gateway.openai.TinyServer.eventually;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.core.http.StreamResponse;
import com.openai.errors.BadRequestException;
import com.openai.errors.NotFoundException;
import com.openai.errors.OpenAIServiceException;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionContentPart;
import com.openai.models.chat.completions.ChatCompletionContentPartImage;
import com.openai.models.chat.completions.ChatCompletionContentPartText;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionChoice;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The OpenAI API through the official OpenAI Java SDK, against a real server on loopback serving
 * {@code builtin:tiny} (random weights: the text is gibberish, but it is deterministic when greedy).
 */
@Timeout(180)
class OpenAiClientTest {
    @TempDir
    static Path cache;
    private static TinyServer tiny;
    private static OpenAIClient client;

    @BeforeAll
    static void start() {
        tiny = TinyServer.start(cache);
        client = tiny.client();
    }

    @AfterAll
    static void stop() {
        client.close();
        tiny.close();
    }

    private static CompletionCreateParams.Builder completion(String prompt, long maxTokens) {
        return CompletionCreateParams.builder().model("tiny").prompt(prompt).maxTokens(maxTokens).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
    }

    private static ChatCompletionCreateParams.Builder chat(String user, long maxTokens) {
        return ChatCompletionCreateParams.builder().model("tiny").addSystemMessage("You are terse.")
                .addUserMessage(user).maxCompletionTokens(maxTokens).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true));
    }

    @Test
    void listsTheServedModels() {
        List<Model> models = client.models().list().data();
        assertEquals(1, models.size());
        assertEquals("tiny", models.get(0).id());
        assertEquals("tessera", models.get(0).ownedBy());
        assertEquals("text_generation", models.get(0)._additionalProperties().get("kind").asStringOrThrow());
    }

    @Test
    void completionWholeAndStreamedAgree() {
        Completion whole = client.completions().create(completion("Once upon a time", 24).build());
        CompletionChoice choice = whole.choices().get(0);
        assertEquals("tiny", whole.model());
        assertTrue(whole.id().startsWith("cmpl-"), whole.id());
        assertEquals(CompletionChoice.FinishReason.LENGTH, choice.finishReason());
        assertEquals(24, whole.usage().orElseThrow().completionTokens());
        assertTrue(whole.usage().orElseThrow().promptTokens() > 1);
        assertFalse(choice.text().isEmpty());

        StringBuilder streamed = new StringBuilder();
        List<String> reasons = new ArrayList<>();
        try (StreamResponse<Completion> stream = client.completions().createStreaming(completion("Once upon a time",
                24).build())) {
            stream.stream().forEach(c -> c.choices().forEach(ch -> {
                streamed.append(ch.text());
                ch._finishReason().asKnown().ifPresent(r -> reasons.add(r.asString()));
            }));
        }
        assertEquals(choice.text(), streamed.toString());
        assertEquals(List.of("length"), reasons);
    }

    @Test
    void chatWholeAndStreamedAgreeWithUsageAtTheEnd() {
        ChatCompletion whole = client.chat().completions().create(chat("Hello there", 20).build());
        assertEquals("tiny", whole.model());
        assertTrue(whole.id().startsWith("chatcmpl-"), whole.id());
        String text = whole.choices().get(0).message().content().orElseThrow();
        assertEquals(ChatCompletion.Choice.FinishReason.LENGTH, whole.choices().get(0).finishReason());
        assertEquals(20, whole.usage().orElseThrow().completionTokens());

        StringBuilder streamed = new StringBuilder();
        List<String> roles = new ArrayList<>();
        List<Long> usage = new ArrayList<>();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                chat("Hello there", 20).streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true)
                        .build()).build())) {
            stream.stream().forEach(c -> {
                for (ChatCompletionChunk.Choice ch : c.choices()) {
                    ch.delta().content().ifPresent(streamed::append);
                    ch.delta().role().ifPresent(r -> roles.add(r.asString()));
                }
                c.usage().ifPresent(u -> usage.add(u.completionTokens()));
            });
        }
        assertEquals(text, streamed.toString());
        assertEquals(List.of("assistant"), roles);
        assertEquals(List.of(20L), usage);
    }

    @Test
    void nSamplesAreSeparateChoicesAndTheirUsageAddsUp() {
        ChatCompletion seeded = client.chat().completions().create(chat("Tell me three things", 12).temperature(1.0)
                .seed(7).n(3).build());
        assertEquals(3, seeded.choices().size());
        for (int i = 0; i < 3; i++) assertEquals(i, seeded.choices().get(i).index());
        assertEquals(36, seeded.usage().orElseThrow().completionTokens());

        Map<Long, StringBuilder> texts = new TreeMap<>();
        try (StreamResponse<Completion> stream = client.completions().createStreaming(completion("Three ways", 10)
                .temperature(1.0).seed(7).n(3).build())) {
            stream.stream().forEach(c -> c.choices().forEach(ch ->
                    texts.computeIfAbsent(ch.index(), k -> new StringBuilder()).append(ch.text())));
        }
        assertEquals(List.of(0L, 1L, 2L), new ArrayList<>(texts.keySet()));
        Completion again = client.completions().create(completion("Three ways", 10).temperature(1.0).seed(7).n(3)
                .build());
        for (CompletionChoice c : again.choices()) assertEquals(texts.get(c.index()).toString(), c.text());
    }

    @Test
    void stopStringsEndTheTextBeforeThem() {
        String full = client.completions().create(completion("The weather today", 32).build()).choices().get(0).text();
        String stop = full.substring(full.length() / 2, full.length() / 2 + 2);
        CompletionChoice stopped = client.completions().create(completion("The weather today", 32).stop(stop).build())
                .choices().get(0);
        assertEquals(full.substring(0, full.indexOf(stop)), stopped.text());
        assertEquals(CompletionChoice.FinishReason.STOP, stopped.finishReason());

        String chatFull = client.chat().completions().create(chat("Say something", 32).build()).choices().get(0)
                .message().content().orElseThrow();
        String chatStop = chatFull.substring(chatFull.length() / 2, chatFull.length() / 2 + 2);
        StringBuilder streamed = new StringBuilder();
        try (StreamResponse<ChatCompletionChunk> stream = client.chat().completions().createStreaming(
                chat("Say something", 32).stop(chatStop).build())) {
            stream.stream().forEach(c -> c.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append)));
        }
        assertEquals(chatFull.substring(0, chatFull.indexOf(chatStop)), streamed.toString());
    }

    @Test
    void logprobsOnChatAndCompletions() {
        ChatCompletion c = client.chat().completions().create(chat("Hi", 8).logprobs(true).topLogprobs(3).build());
        List<ChatCompletionTokenLogprob> content = c.choices().get(0).logprobs().orElseThrow().content().orElseThrow();
        assertEquals(8, content.size());
        StringBuilder joined = new StringBuilder();
        for (ChatCompletionTokenLogprob lp : content) {
            assertTrue(lp.logprob() <= 0, "logprob " + lp.logprob());
            assertEquals(3, lp.topLogprobs().size());
            // Greedy: the sampled token is the most likely one.
            ChatCompletionTokenLogprob.TopLogprob best = lp.topLogprobs().stream()
                    .max(Comparator.comparingDouble(ChatCompletionTokenLogprob.TopLogprob::logprob)).orElseThrow();
            assertEquals(best.token(), lp.token());
            assertEquals(best.logprob(), lp.logprob(), 1e-6);
            joined.append(lp.token());
        }
        String text = c.choices().get(0).message().content().orElseThrow();
        if (!joined.toString().contains("\uFFFD")) assertEquals(text, joined.toString());

        ChatCompletion onlySampled = client.chat().completions().create(chat("Hi", 4).logprobs(true).build());
        for (ChatCompletionTokenLogprob lp : onlySampled.choices().get(0).logprobs().orElseThrow().content()
                .orElseThrow()) {
            assertTrue(lp.topLogprobs().isEmpty());
        }

        CompletionChoice.Logprobs lps = client.completions().create(completion("Once", 6).logprobs(2).build())
                .choices().get(0).logprobs().orElseThrow();
        assertEquals(6, lps.tokens().orElseThrow().size());
        assertEquals(6, lps.tokenLogprobs().orElseThrow().size());
        assertEquals(6, lps.topLogprobs().orElseThrow().size());
        for (CompletionChoice.Logprobs.TopLogprob top : lps.topLogprobs().orElseThrow()) {
            assertTrue(top._additionalProperties().size() >= 1 && top._additionalProperties().size() <= 2);
        }
        List<Long> offsets = lps.textOffset().orElseThrow();
        for (int i = 1; i < offsets.size(); i++) assertTrue(offsets.get(i) >= offsets.get(i - 1));
    }

    @Test
    void contentPartsOfTextAreJoinedAndImagesRefusedOnATextModel() {
        ChatCompletion parts = client.chat().completions().create(ChatCompletionCreateParams.builder().model("tiny")
                .addUserMessageOfArrayOfContentParts(List.of(text("Hello"), text("there"))).maxCompletionTokens(6)
                .temperature(0.0).build());
        ChatCompletion plain = client.chat().completions().create(ChatCompletionCreateParams.builder().model("tiny")
                .addUserMessage("Hello\nthere").maxCompletionTokens(6).temperature(0.0).build());
        assertEquals(plain.choices().get(0).message().content(), parts.choices().get(0).message().content());
        assertEquals(plain.usage().orElseThrow().promptTokens(), parts.usage().orElseThrow().promptTokens());

        BadRequestException image = assertThrows(BadRequestException.class, () -> client.chat().completions()
                .create(ChatCompletionCreateParams.builder().model("tiny").addUserMessageOfArrayOfContentParts(
                        List.of(text("What is this?"), image("data:image/png;base64,iVBORw0KGgo="))).build()));
        assertEquals("messages[0].content[1]", image.param().orElseThrow());
        assertTrue(image.getMessage().contains("text only"), image.getMessage());

        BadRequestException remote = assertThrows(BadRequestException.class, () -> client.chat().completions()
                .create(ChatCompletionCreateParams.builder().model("tiny").addUserMessageOfArrayOfContentParts(
                        List.of(image("http://169.254.169.254/latest/meta-data"))).build()));
        assertEquals("messages[0].content[0].image_url.url", remote.param().orElseThrow());
        assertTrue(remote.getMessage().contains("not fetched"), remote.getMessage());
    }

    private static ChatCompletionContentPart text(String t) {
        return ChatCompletionContentPart.ofText(ChatCompletionContentPartText.builder().text(t).build());
    }

    private static ChatCompletionContentPart image(String url) {
        return ChatCompletionContentPart.ofImageUrl(ChatCompletionContentPartImage.builder()
                .imageUrl(ChatCompletionContentPartImage.ImageUrl.builder().url(url).build()).build());
    }

    @Test
    void errorsHaveOpenAisShapeAndStatus() throws Exception {
        BadRequestException topP = assertThrows(BadRequestException.class,
                () -> client.completions().create(completion("x", 4).topP(1.5).build()));
        assertEquals(400, topP.statusCode());
        assertEquals("top_p", topP.param().orElseThrow());
        assertEquals("invalid_request_error", topP.type().orElseThrow());
        assertTrue(topP.getMessage().contains("top_p: must be in (0, 1], got 1.5"), topP.getMessage());

        BadRequestException tooMany = assertThrows(BadRequestException.class,
                () -> client.chat().completions().create(chat("x", 100_000).build()));
        assertEquals("max_completion_tokens", tooMany.param().orElseThrow());

        BadRequestException wrongType = assertThrows(BadRequestException.class, () -> client.completions()
                .create(completion("x", 4).putAdditionalBodyProperty("top_k", JsonValue.from("many")).build()));
        assertEquals("top_k", wrongType.param().orElseThrow());
        assertTrue(wrongType.getMessage().contains("must be an integer"), wrongType.getMessage());

        BadRequestException streamed = assertThrows(BadRequestException.class, () -> {
            try (StreamResponse<ChatCompletionChunk> s = client.chat().completions()
                    .createStreaming(chat("x", 4).temperature(-1.0).build())) {
                s.stream().forEach(c -> { });
            }
        });
        assertEquals("temperature", streamed.param().orElseThrow());

        NotFoundException model = assertThrows(NotFoundException.class, () -> client.chat().completions()
                .create(chat("x", 4).model("gpt-4o").build()));
        assertEquals("model_not_found", model.code().orElseThrow());

        BadRequestException unsupported = assertThrows(BadRequestException.class, () -> client.chat().completions()
                .create(chat("x", 4).putAdditionalBodyProperty("logit_bias", JsonValue.from(Map.of("1", 5)))
                        .build()));
        assertEquals("logit_bias", unsupported.param().orElseThrow());

        // An unknown field is ignored, as OpenAI does.
        assertEquals(4, client.completions().create(completion("x", 4)
                .putAdditionalBodyProperty("frobnicate", JsonValue.from(true)).build()).usage().orElseThrow()
                .completionTokens());

        OpenAIServiceException images = assertThrows(OpenAIServiceException.class, () -> client.images()
                .generate(com.openai.models.images.ImageGenerateParams.builder().prompt("a cat").build()));
        assertEquals(501, images.statusCode());
        eventually("every KV block free", tiny::idle);
    }

    @Test
    void httpRequestsAreCountedInTheServingMetrics() throws Exception {
        HttpClient http = TinyServer.http(HttpClient.Version.HTTP_1_1);
        double before = successes(http);
        client.completions().create(completion("count me", 3).build());
        eventually("the request is counted", () -> {
            try {
                return successes(http) >= before + 1;
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
    }

    /** The {@code vllm:e2e_request_latency_seconds} count of model tiny. */
    private static double successes(HttpClient http) throws Exception {
        String metrics = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + tiny.port + "/metrics"))
                .build(), HttpResponse.BodyHandlers.ofString()).body();
        Map<String, Double> counts = new HashMap<>();
        for (String line : metrics.split("\n")) {
            if (line.startsWith("vllm:e2e_request_latency_seconds_count") && line.contains("model_name=\"tiny\"")) {
                counts.put(line, Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1)));
            }
        }
        return counts.values().stream().mapToDouble(Double::doubleValue).sum();
    }
}
