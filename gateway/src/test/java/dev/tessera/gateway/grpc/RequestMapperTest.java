package dev.tessera.gateway.grpc;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.TokenIds;
import dev.tessera.engine.InvalidArgumentException;
import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.scheduler.DrainingException;
import dev.tessera.scheduler.QueueFullException;
import io.vertx.grpc.common.GrpcStatus;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Field validation and mapping of GenerateRequest, and the status each failure maps to. */
class RequestMapperTest {
    private static final ModelInfo MODEL = new ModelInfo("m", "LlamaForCausalLM", 100, 64, 2, 4, 2, 16, 256,
            new int[] {0}, -1);
    private final RequestMapper mapper = new RequestMapper(MODEL, 64);

    private CallError reject(GenerateRequest.Builder request) {
        return assertThrows(CallException.class, () -> mapper.toScheduler("r", request.build())).error();
    }

    private void assertInvalid(String field, GenerateRequest.Builder request) {
        CallError e = reject(request);
        assertEquals(GrpcStatus.INVALID_ARGUMENT, e.status());
        assertEquals(field, e.field());
        assertTrue(e.message().startsWith(field + ": "), e.message());
    }

    private static GenerateRequest.Builder prompt(SamplingParams.Builder sampling) {
        return GenerateRequest.newBuilder().setPrompt("hi").setSampling(sampling);
    }

    @Test
    void unsetFieldsTakeTheDefaults() {
        var r = mapper.toScheduler("id", GenerateRequest.newBuilder().setPrompt("hi").build());
        assertEquals("id", r.requestId());
        assertEquals("hi", r.prompt());
        assertNull(r.promptTokenIds());
        assertEquals(0.0, r.params().temperature());
        assertEquals(1.0, r.params().topP());
        assertEquals(RequestMapper.DEFAULT_MAX_TOKENS, r.params().maxTokens());
        assertEquals(1, r.params().n());
        assertNull(r.params().seed());
    }

    @Test
    void setFieldsAreMapped() {
        var r = mapper.toScheduler("id", GenerateRequest.newBuilder()
                .setPromptTokenIds(TokenIds.newBuilder().addAllIds(List.of(5, 6, 7)))
                .setPriority(3)
                .setSampling(SamplingParams.newBuilder().setTemperature(0.7f).setTopK(5).setTopP(0.9f)
                        .setSeed(42).setMaxTokens(10).addStop("\n").addStopTokenIds(9).setN(2).setLogprobs(3))
                .build());
        assertArrayEquals(new int[] {5, 6, 7}, r.promptTokenIds());
        assertEquals(3, r.priority());
        assertEquals(0.7, r.params().temperature(), 1e-6);
        assertEquals(5, r.params().topK());
        assertEquals(42L, r.params().seed());
        assertEquals(10, r.params().maxTokens());
        assertEquals(List.of("\n"), r.params().stop());
        assertArrayEquals(new int[] {9}, r.params().stopTokenIds());
        assertEquals(2, r.params().n());
        assertEquals(3, r.params().logprobs());
    }

    @Test
    void everyBadFieldIsNamed() {
        assertInvalid("input", GenerateRequest.newBuilder());
        assertInvalid("prompt", GenerateRequest.newBuilder().setPrompt(""));
        assertInvalid("prompt_token_ids.ids", GenerateRequest.newBuilder().setPromptTokenIds(TokenIds.newBuilder()));
        assertInvalid("prompt_token_ids.ids", GenerateRequest.newBuilder()
                .setPromptTokenIds(TokenIds.newBuilder().addIds(100)));
        TokenIds.Builder tooMany = TokenIds.newBuilder();
        for (int i = 0; i < 65; i++) {
            tooMany.addIds(1);
        }
        assertInvalid("prompt_token_ids.ids", GenerateRequest.newBuilder().setPromptTokenIds(tooMany));
        assertInvalid("sampling.max_tokens", prompt(SamplingParams.newBuilder().setMaxTokens(0)));
        assertInvalid("sampling.max_tokens", prompt(SamplingParams.newBuilder().setMaxTokens(257)));
        assertInvalid("sampling.max_tokens", GenerateRequest.newBuilder()
                .setPromptTokenIds(TokenIds.newBuilder().addIds(1).addIds(2))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(255)));
        assertInvalid("sampling.temperature", prompt(SamplingParams.newBuilder().setTemperature(Float.NaN)));
        assertInvalid("sampling.temperature", prompt(SamplingParams.newBuilder().setTemperature(-1)));
        assertInvalid("sampling.top_p", prompt(SamplingParams.newBuilder().setTopP(0)));
        assertInvalid("sampling.top_p", prompt(SamplingParams.newBuilder().setTopP(1.01f)));
        assertInvalid("sampling.min_p", prompt(SamplingParams.newBuilder().setMinP(2)));
        assertInvalid("sampling.repetition_penalty", prompt(SamplingParams.newBuilder().setRepetitionPenalty(0)));
        assertInvalid("sampling.presence_penalty", prompt(SamplingParams.newBuilder().setPresencePenalty(3)));
        assertInvalid("sampling.frequency_penalty", prompt(SamplingParams.newBuilder().setFrequencyPenalty(-3)));
        assertInvalid("sampling.n", prompt(SamplingParams.newBuilder().setN(0)));
        assertInvalid("sampling.logprobs", prompt(SamplingParams.newBuilder().setLogprobs(21)));
        assertInvalid("sampling.stop_token_ids", prompt(SamplingParams.newBuilder().addStopTokenIds(100)));
    }

    @Test
    void unknownModelIsNotFound() {
        CallError e = reject(GenerateRequest.newBuilder().setModel("other").setPrompt("hi"));
        assertEquals(GrpcStatus.NOT_FOUND, e.status());
        assertTrue(e.message().contains("other"));
        mapper.toScheduler("ok", GenerateRequest.newBuilder().setModel("m").setPrompt("hi").build());
    }

    @Test
    void schedulerFailuresMapToStatuses() {
        CallError invalid = CallError.of(new InvalidArgumentException("prompt", "too long"));
        assertEquals(GrpcStatus.INVALID_ARGUMENT, invalid.status());
        assertEquals("prompt", invalid.field());
        assertEquals(GrpcStatus.RESOURCE_EXHAUSTED, CallError.of(new QueueFullException(8)).status());
        assertEquals(GrpcStatus.UNAVAILABLE, CallError.of(new DrainingException()).status());
        assertEquals(GrpcStatus.INTERNAL, CallError.of(new IllegalStateException("boom")).status());
    }
}
