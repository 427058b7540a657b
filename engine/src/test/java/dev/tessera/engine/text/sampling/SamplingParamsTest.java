package dev.tessera.engine.text.sampling;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.engine.InvalidArgumentException;
import java.util.Collections;
import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class SamplingParamsTest {

    private static InvalidArgumentException reject(UnaryOperator<SamplingParams.Builder> edit) {
        SamplingParams p = edit.apply(SamplingParams.builder()).build();
        return assertThrows(InvalidArgumentException.class, () -> p.validate(100, 10, 64));
    }

    private static void expectField(String field, UnaryOperator<SamplingParams.Builder> edit) {
        InvalidArgumentException e = reject(edit);
        assertEquals(field, e.field());
        assertTrue(e.getMessage().startsWith(field + ": "), e.getMessage());
    }

    @Test
    void defaultsAreValid() {
        SamplingParams.builder().build().validate(100, 10, 64);
        SamplingParams.builder().temperature(0.7).topK(-1).topP(1).minP(1).repetitionPenalty(1.3)
                .presencePenalty(-2).frequencyPenalty(2).n(16).logprobs(20).stop(List.of("x"))
                .stopTokenIds(new int[] {0, 99}).maxTokens(54).build().validate(100, 10, 64);
    }

    @Test
    void rejectsEachFieldByName() {
        expectField("temperature", b -> b.temperature(Double.NaN));
        expectField("temperature", b -> b.temperature(-0.1));
        expectField("temperature", b -> b.temperature(Double.POSITIVE_INFINITY));
        expectField("top_k", b -> b.topK(-2));
        expectField("top_p", b -> b.topP(0));
        expectField("top_p", b -> b.topP(1.01));
        expectField("min_p", b -> b.minP(-0.1));
        expectField("min_p", b -> b.minP(Double.NaN));
        expectField("repetition_penalty", b -> b.repetitionPenalty(0));
        expectField("presence_penalty", b -> b.presencePenalty(2.5));
        expectField("frequency_penalty", b -> b.frequencyPenalty(-3));
        expectField("max_tokens", b -> b.maxTokens(0));
        expectField("max_tokens", b -> b.maxTokens(55));
        expectField("n", b -> b.n(0));
        expectField("n", b -> b.n(17));
        expectField("logprobs", b -> b.logprobs(21));
        expectField("stop", b -> b.stop(List.of("a", "")));
        expectField("stop", b -> b.stop(Collections.nCopies(17, "s")));
        expectField("stop_token_ids", b -> b.stopTokenIds(new int[] {100}));
        expectField("stop_token_ids", b -> b.stopTokenIds(new int[] {-1}));
    }

    @Test
    void messageSaysWhatWasGiven() {
        assertEquals("temperature: must be a finite number >= 0, got NaN",
                reject(b -> b.temperature(Double.NaN)).getMessage());
    }
}
