package dev.tessera.engine.checkpoint;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SafeTensorsFileTest {
    @TempDir
    Path dir;

    @Test
    void readsF32F16AndBf16AsFloats() throws IOException {
        // 1.0, -2.5, 65504 (max half), 2^-24 (smallest subnormal half)
        byte[] half = le16(0x3c00, 0xc100, 0x7bff, 0x0001);
        // bf16: top 16 bits of the float
        byte[] bf = le16(Float.floatToIntBits(1.5f) >>> 16, Float.floatToIntBits(-3.0f) >>> 16);
        Path file = dir.resolve("t.safetensors");
        new SafeTensorsWriter().f32("a", new float[] {1f, 2f, 3f, 4f, 5f, 6f}, 2, 3)
                .raw("h", "F16", half, 4).raw("b", "BF16", bf, 2).write(file);
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            assertArrayEquals(new float[] {1f, 2f, 3f, 4f, 5f, 6f}, f.readFloats(f.tensors().get("a")));
            assertArrayEquals(new float[] {1f, -2.5f, 65504f, 0x1p-24f}, f.readFloats(f.tensors().get("h")));
            assertArrayEquals(new float[] {1.5f, -3f}, f.readFloats(f.tensors().get("b")));
            assertArrayEquals(new long[] {2, 3}, f.tensors().get("a").shape());
        }
    }

    @Test
    void rejectsHeaderLengthBeyondFile() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40);
        Files.write(file, b.array());
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("header length"),
                e.getMessage());
    }

    @Test
    void rejectsInvalidJson() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        byte[] h = "{\"a\": {\"dtype\": ".getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).put(h);
        Files.write(file, b.array());
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("invalid JSON"),
                e.getMessage());
    }

    @Test
    void rejectsOffsetsThatDoNotMatchTheShape() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        new SafeTensorsWriter().raw("w", "F32", new byte[12], 2, 2).write(file);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertEquals("w", e.tensor());
        assertTrue(e.getMessage().contains("bad.safetensors") && e.getMessage().contains("tensor w"), e.getMessage());
    }

    @Test
    void rejectsUnknownDtype() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        new SafeTensorsWriter().raw("w", "Q4", new byte[4], 4).write(file);
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("Q4"), e.getMessage());
    }

    @Test
    void rejectsTruncatedData() throws IOException {
        Path file = dir.resolve("bad.safetensors");
        new SafeTensorsWriter().f32("w", new float[16], 4, 4).write(file);
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 8));
        CheckpointException e = assertThrows(CheckpointException.class, () -> SafeTensorsFile.open(file));
        assertTrue(e.getMessage().contains("tensor w") && e.getMessage().contains("outside"), e.getMessage());
    }

    private static byte[] le16(int... v) {
        ByteBuffer b = ByteBuffer.allocate(v.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (int x : v) b.putShort((short) x);
        return b.array();
    }
}
