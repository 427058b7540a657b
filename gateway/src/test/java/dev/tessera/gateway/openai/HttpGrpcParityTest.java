package dev.tessera.gateway.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import com.openai.client.OpenAIClient;
import com.openai.core.JsonValue;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionTokenLogprob;
import com.openai.models.completions.CompletionCreateParams;
import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.GenerateResponse;
import dev.tessera.api.v1.InferenceGrpc;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.TokenIds;
import dev.tessera.engine.text.TextEngine;
import dev.tessera.engine.text.tokenizer.TokenizerConfig;
import dev.tessera.scheduler.text.ChatMessage;
import dev.tessera.scheduler.text.ChatTemplate;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The HTTP API and gRPC reach the same serving core: a greedy chat completion over HTTP gives the same tokens as
 * gRPC {@code Generate} on the chat rendered by the model's template and tokenized without special tokens (what the
 * serving core does with {@code messages}); a greedy completion gives the same text as the same prompt over gRPC.
 */
@Timeout(120)
class HttpGrpcParityTest {
    @TempDir
    static Path cache;
    private static TinyServer tiny;
    private static OpenAIClient client;
    private static ManagedChannel channel;

    @BeforeAll
    static void start() {
        tiny = TinyServer.start(cache);
        client = tiny.client();
        channel = NettyChannelBuilder.forAddress("127.0.0.1", tiny.port).usePlaintext().build();
    }

    @AfterAll
    static void stop() throws InterruptedException {
        channel.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
        client.close();
        tiny.close();
    }

    /** Runs Generate to the end: the token ids and the text. */
    private static List<Integer> grpc(GenerateRequest request, StringBuilder text) {
        List<Integer> ids = new ArrayList<>();
        Iterator<GenerateResponse> it = InferenceGrpc.newBlockingStub(channel).generate(request);
        while (it.hasNext()) {
            GenerateResponse r = it.next();
            if (r.hasDelta()) {
                ids.addAll(r.getDelta().getTokenIdsList());
                text.append(r.getDelta().getText());
            }
        }
        return ids;
    }

    private static SamplingParams greedy(int maxTokens) {
        return SamplingParams.newBuilder().setMaxTokens(maxTokens).setIgnoreEos(true).build();
    }

    @Test
    void aGreedyChatGivesTheSameTokensOverHttpAndGrpc() {
        ChatCompletion http = client.chat().completions().create(ChatCompletionCreateParams.builder().model("tiny")
                .addSystemMessage("You answer in one line.").addUserMessage("What is the capital of France?")
                .maxCompletionTokens(32).temperature(0.0).logprobs(true)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build());

        TextEngine engine = (TextEngine) tiny.server.engines().get(0);
        TokenizerConfig config = engine.tokenizerConfig();
        String rendered = new ChatTemplate(config.chatTemplate(), config.bosToken(), config.eosToken()).render(List.of(
                ChatMessage.text("system", "You answer in one line."),
                ChatMessage.text("user", "What is the capital of France?")), true);
        int[] prompt = engine.tokenizer().encode(rendered, false);
        TokenIds.Builder ids = TokenIds.newBuilder();
        for (int id : prompt) ids.addIds(id);
        StringBuilder grpcText = new StringBuilder();
        List<Integer> grpcTokens = grpc(GenerateRequest.newBuilder().setModel("tiny").setPromptTokenIds(ids)
                .setSampling(greedy(32)).build(), grpcText);

        assertEquals(prompt.length, http.usage().orElseThrow().promptTokens());
        assertEquals(32, grpcTokens.size());
        List<String> httpTokens = new ArrayList<>();
        for (ChatCompletionTokenLogprob lp : http.choices().get(0).logprobs().orElseThrow().content().orElseThrow()) {
            httpTokens.add(lp.token());
        }
        List<String> grpcTokenTexts = new ArrayList<>();
        for (int id : grpcTokens) grpcTokenTexts.add(tiny.server.scheduler().tokenText("tiny", id));
        assertEquals(grpcTokenTexts, httpTokens);
        assertEquals(grpcText.toString(), http.choices().get(0).message().content().orElseThrow());
        assertFalse(grpcText.isEmpty());
    }

    @Test
    void aGreedyCompletionGivesTheSameTextOverHttpAndGrpc() {
        String http = client.completions().create(CompletionCreateParams.builder().model("tiny")
                .prompt("The quick brown fox").maxTokens(40).temperature(0.0)
                .putAdditionalBodyProperty("ignore_eos", JsonValue.from(true)).build()).choices().get(0).text();
        StringBuilder grpcText = new StringBuilder();
        grpc(GenerateRequest.newBuilder().setModel("tiny").setPrompt("The quick brown fox").setSampling(greedy(40))
                .build(), grpcText);
        assertEquals(grpcText.toString(), http);
    }
}
