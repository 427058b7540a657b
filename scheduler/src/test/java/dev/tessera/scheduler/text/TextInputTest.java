package dev.tessera.scheduler.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.text.model.ModelInfo;
import dev.tessera.scheduler.core.JobException;
import dev.tessera.scheduler.core.JobFailure;
import org.junit.jupiter.api.Test;

/** Every check of a text request, in one place, naming the field as a proto path. */
class TextInputTest {
    private static final ModelInfo MODEL = new ModelInfo("m", "LlamaForCausalLM", TestTokenizer.VOCAB, 64, 2, 4, 2,
            16, 256, new int[] {0}, -1);
    private final TextInput input = new TextInput(MODEL, new TestTokenizer(), 64, 4096);

    private void assertInvalid(String field, GenerateRequest request) {
        JobFailure f = assertThrows(JobException.class, () -> input.prepare(request, 0)).failure();
        assertEquals(JobFailure.Code.INVALID_ARGUMENT, f.code());
        assertEquals(field, f.field());
        assertTrue(f.message().startsWith(field + ": "), f.message());
    }

    private static GenerateRequest prompt(Sampling.Builder sampling) {
        return GenerateRequest.of("r", "hi", sampling.build());
    }

    private static GenerateRequest ids(long... ids) {
        return new GenerateRequest("r", "", null, ids, Sampling.defaults(), 0);
    }

    @Test
    void unsetFieldsTakeTheDefaults() {
        PreparedText p = input.prepare(GenerateRequest.of("id", "hi", Sampling.defaults()), 7);
        assertEquals("id", p.requestId());
        assertEquals(2, p.promptTokens().length);
        assertEquals(0.0, p.params().temperature());
        assertEquals(1.0, p.params().topP());
        assertEquals(TextInput.DEFAULT_MAX_TOKENS, p.params().maxTokens());
        assertEquals(1, p.params().n());
        assertNull(p.params().seed());
        assertEquals(7, p.arrivalNanos());
    }

    @Test
    void aSeedIsDrawnWhenUnsetAndKeptWhenSet() {
        assertEquals(42L, input.prepare(prompt(Sampling.builder().seed(42L)), 0).seed());
    }

    @Test
    void everyBadFieldIsNamed() {
        assertInvalid("input", new GenerateRequest("r", "", null, null, Sampling.defaults(), 0));
        assertInvalid("input", new GenerateRequest("r", "", "hi", new long[] {1}, Sampling.defaults(), 0));
        assertInvalid("prompt", GenerateRequest.of("r", "", Sampling.defaults()));
        assertInvalid("prompt_token_ids.ids", ids());
        assertInvalid("prompt_token_ids.ids", ids(TestTokenizer.VOCAB));
        assertInvalid("prompt_token_ids.ids", ids(4294967295L));
        assertInvalid("prompt_token_ids.ids", ids(new long[65]));
        assertInvalid("prompt", GenerateRequest.of("r", "a".repeat(65), Sampling.defaults()));
        assertInvalid("sampling.max_tokens", prompt(Sampling.builder().maxTokens(0L)));
        assertInvalid("sampling.max_tokens", prompt(Sampling.builder().maxTokens(257L)));
        assertInvalid("sampling.max_tokens", prompt(Sampling.builder().maxTokens(4294967295L)));
        assertInvalid("sampling.max_tokens", new GenerateRequest("r", "", null, new long[] {1, 2},
                Sampling.greedy(255), 0));
        assertInvalid("sampling.temperature", prompt(Sampling.builder().temperature(Float.NaN)));
        assertInvalid("sampling.temperature", prompt(Sampling.builder().temperature(-1f)));
        assertInvalid("sampling.top_p", prompt(Sampling.builder().topP(0f)));
        assertInvalid("sampling.top_p", prompt(Sampling.builder().topP(1.01f)));
        assertInvalid("sampling.top_k", prompt(Sampling.builder().topK(-2)));
        assertInvalid("sampling.min_p", prompt(Sampling.builder().minP(2f)));
        assertInvalid("sampling.repetition_penalty", prompt(Sampling.builder().repetitionPenalty(0f)));
        assertInvalid("sampling.presence_penalty", prompt(Sampling.builder().presencePenalty(3f)));
        assertInvalid("sampling.frequency_penalty", prompt(Sampling.builder().frequencyPenalty(-3f)));
        assertInvalid("sampling.n", prompt(Sampling.builder().n(0L)));
        assertInvalid("sampling.n", prompt(Sampling.builder().n(4294967295L)));
        assertInvalid("sampling.logprobs", prompt(Sampling.builder().logprobs(21L)));
        assertInvalid("sampling.stop_token_ids", prompt(Sampling.builder().stopTokenIds(TestTokenizer.VOCAB)));
        assertInvalid("sampling.stop", prompt(Sampling.builder().stop(java.util.List.of(""))));
    }

    @Test
    void stopStringsAndStopIdsHaveDocumentedLimits() {
        String longest = "s".repeat(TextInput.MAX_STOP_CHARS);
        input.prepare(prompt(Sampling.builder().stop(java.util.List.of(longest))), 0);
        input.prepare(prompt(Sampling.builder().stopTokenIds(new long[TextInput.MAX_STOP_TOKEN_IDS])), 0);
        assertInvalid("sampling.stop", prompt(Sampling.builder().stop(java.util.List.of("s".repeat(1 << 20)))));
        assertInvalid("sampling.stop", prompt(Sampling.builder().stop(java.util.Collections.nCopies(17, "x"))));
        assertInvalid("sampling.stop_token_ids",
                prompt(Sampling.builder().stopTokenIds(new long[102_400])));
    }

    @Test
    void aRequestLargerThanTheWholeKvCacheIsRefused() {
        TextInput small = new TextInput(MODEL, new TestTokenizer(), 64, 32);
        JobFailure f = assertThrows(JobException.class,
                () -> small.prepare(GenerateRequest.of("r", "hello", Sampling.greedy(40)), 0)).failure();
        assertTrue(f.message().contains("KV cache"), f.message());
    }
}
