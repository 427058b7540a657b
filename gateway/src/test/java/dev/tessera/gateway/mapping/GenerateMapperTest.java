package dev.tessera.gateway.mapping;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import dev.tessera.api.v1.GenerateRequest;
import dev.tessera.api.v1.SamplingParams;
import dev.tessera.api.v1.TokenIds;
import dev.tessera.scheduler.text.Sampling;
import java.util.List;
import org.junit.jupiter.api.Test;

/** GenerateRequest maps field for field; unset stays unset; unsigned values are widened, never wrapped. */
class GenerateMapperTest {

    @Test
    void unsetFieldsStayUnset() {
        var r = GenerateMapper.toDomain("id", GenerateRequest.newBuilder().setPrompt("hi").build());
        assertEquals("id", r.requestId());
        assertEquals("", r.model());
        assertEquals("hi", r.prompt());
        assertNull(r.promptTokenIds());
        Sampling s = r.sampling();
        assertNull(s.temperature());
        assertNull(s.topP());
        assertNull(s.maxTokens());
        assertNull(s.n());
        assertNull(s.seed());
        assertEquals(List.of(), s.stop());
    }

    @Test
    void setFieldsAreMapped() {
        var r = GenerateMapper.toDomain("id", GenerateRequest.newBuilder().setModel("m")
                .setPromptTokenIds(TokenIds.newBuilder().addAllIds(List.of(5, 6, 7)))
                .setPriority(3)
                .setSampling(SamplingParams.newBuilder().setTemperature(0.7f).setTopK(5).setTopP(0.9f)
                        .setSeed(42).setMaxTokens(10).addStop("\n").addStopTokenIds(9).setN(2).setLogprobs(3)
                        .setIgnoreEos(true).setMinP(0.1f).setRepetitionPenalty(1.1f).setPresencePenalty(0.5f)
                        .setFrequencyPenalty(-0.5f))
                .build());
        assertEquals("m", r.model());
        assertArrayEquals(new long[] {5, 6, 7}, r.promptTokenIds());
        assertNull(r.prompt());
        assertEquals(3, r.priority());
        Sampling s = r.sampling();
        assertEquals(0.7f, s.temperature());
        assertEquals(5, s.topK());
        assertEquals(0.9f, s.topP());
        assertEquals(42L, s.seed());
        assertEquals(10L, s.maxTokens());
        assertEquals(List.of("\n"), s.stop());
        assertArrayEquals(new long[] {9}, s.stopTokenIds());
        assertEquals(2L, s.n());
        assertEquals(3L, s.logprobs());
        assertEquals(true, s.ignoreEos());
        assertEquals(0.1f, s.minP());
        assertEquals(1.1f, s.repetitionPenalty());
        assertEquals(0.5f, s.presencePenalty());
        assertEquals(-0.5f, s.frequencyPenalty());
    }

    @Test
    void unsignedValuesAreWidenedSoTheirRangeCanBeChecked() {
        var r = GenerateMapper.toDomain("id", GenerateRequest.newBuilder()
                .setPromptTokenIds(TokenIds.newBuilder().addIds(-1))
                .setSampling(SamplingParams.newBuilder().setMaxTokens(-1).setN(-2).addStopTokenIds(-3)).build());
        assertArrayEquals(new long[] {4294967295L}, r.promptTokenIds());
        assertEquals(4294967295L, r.sampling().maxTokens());
        assertEquals(4294967294L, r.sampling().n());
        assertArrayEquals(new long[] {4294967293L}, r.sampling().stopTokenIds());
    }
}
