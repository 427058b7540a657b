package dev.tessera.builtin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsWriterTest {

    @Test
    void writesHeaderOffsetsAndLittleEndianData(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("t.safetensors");
        int big = 70_000; // more than one write chunk
        float[] counter = {0};
        SafetensorsWriter.Source counting = (chunk, n) -> {
            for (int i = 0; i < n; i++) {
                chunk[i] = counter[0]++;
            }
        };
        SafetensorsWriter.writeF32(file, List.of(
                new SafetensorsWriter.Tensor("a", new long[] {2, 3}, RandomWeights.constant(1.5f)),
                new SafetensorsWriter.Tensor("b.weight", new long[] {big}, counting),
                new SafetensorsWriter.Tensor("scalar", new long[] {}, RandomWeights.constant(-2f))),
                Map.of("format", "pt"));

        ByteBuffer all = ByteBuffer.wrap(Files.readAllBytes(file)).order(ByteOrder.LITTLE_ENDIAN);
        long headerLen = all.getLong(0);
        assertEquals(0, headerLen % 8, "header padded to 8 bytes");
        JsonNode header = new ObjectMapper().readTree(
                new String(all.array(), 8, (int) headerLen, StandardCharsets.UTF_8).trim());
        assertEquals("pt", header.get("__metadata__").get("format").asText());
        assertEquals("F32", header.get("a").get("dtype").asText());
        assertEquals("[2,3]", header.get("a").get("shape").toString());
        assertEquals("[0,24]", header.get("a").get("data_offsets").toString());
        assertEquals("[24," + (24 + 4 * big) + "]", header.get("b.weight").get("data_offsets").toString());
        assertEquals("[]", header.get("scalar").get("shape").toString());
        long base = 8 + headerLen;
        assertEquals(base + 24 + 4L * big + 4, Files.size(file));
        assertEquals(1.5f, all.getFloat((int) base));
        assertEquals(0f, all.getFloat((int) base + 24));
        assertEquals(69_999f, all.getFloat((int) base + 24 + 4 * (big - 1)));
        assertEquals(-2f, all.getFloat((int) base + 24 + 4 * big));
    }

    @Test
    void rejectsDuplicateNames(@TempDir Path dir) {
        SafetensorsWriter.Tensor t = new SafetensorsWriter.Tensor("x", new long[] {1}, RandomWeights.constant(0f));
        assertThrows(IllegalArgumentException.class,
                () -> SafetensorsWriter.writeF32(dir.resolve("d.safetensors"), List.of(t, t), Map.of()));
    }

    @Test
    void randomWeightsAreDeterministicPerTensorAndScaled() {
        float[] a = new float[100_000];
        float[] b = new float[100_000];
        RandomWeights.withStd(7, "w", 0.5).next(a, a.length);
        RandomWeights.withStd(7, "w", 0.5).next(b, b.length);
        org.junit.jupiter.api.Assertions.assertArrayEquals(a, b);
        double sum = 0;
        double sq = 0;
        for (float x : a) {
            sum += x;
            sq += x * x;
        }
        double mean = sum / a.length;
        double std = Math.sqrt(sq / a.length - mean * mean);
        assertEquals(0, mean, 0.01);
        assertEquals(0.5, std, 0.01);
        float[] other = new float[10];
        RandomWeights.withStd(7, "w2", 0.5).next(other, other.length);
        assertEquals(false, other[0] == a[0] && other[1] == a[1], "another tensor name, another stream");
    }
}
