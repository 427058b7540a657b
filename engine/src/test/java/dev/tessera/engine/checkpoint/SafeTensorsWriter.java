package dev.tessera.engine.checkpoint;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Writes safetensors files for tests: tensors as raw little-endian bytes with a dtype and shape. */
public final class SafeTensorsWriter {
    private record Entry(String dtype, long[] shape, byte[] data) {
    }

    private final Map<String, Entry> tensors = new LinkedHashMap<>();

    public SafeTensorsWriter f32(String name, float[] values, long... shape) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        tensors.put(name, new Entry("F32", shape, b.array()));
        return this;
    }

    public SafeTensorsWriter raw(String name, String dtype, byte[] data, long... shape) {
        tensors.put(name, new Entry(dtype, shape, data));
        return this;
    }

    /** Copies every tensor of an existing file (raw bytes, same dtype), except those in {@code skip}. */
    public SafeTensorsWriter copyFrom(Path file, String... skip) {
        try (SafeTensorsFile f = SafeTensorsFile.open(file)) {
            byte[] all = Files.readAllBytes(file);
            outer:
            for (TensorInfo t : f.tensors().values()) {
                for (String s : skip) if (s.equals(t.name())) continue outer;
                byte[] data = java.util.Arrays.copyOfRange(all, (int) t.begin(), (int) t.end());
                tensors.put(t.name(), new Entry(t.dtype().name(), t.shape(), data));
            }
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        return this;
    }

    public void write(Path file) throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode header = json.createObjectNode();
        ByteArrayOutputStream data = new ByteArrayOutputStream();
        for (Map.Entry<String, Entry> e : tensors.entrySet()) {
            ObjectNode t = header.putObject(e.getKey());
            t.put("dtype", e.getValue().dtype());
            var shape = t.putArray("shape");
            for (long d : e.getValue().shape()) shape.add(d);
            var off = t.putArray("data_offsets");
            off.add(data.size());
            data.write(e.getValue().data());
            off.add(data.size());
        }
        byte[] h = json.writeValueAsString(header).getBytes(StandardCharsets.UTF_8);
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(len.array());
        out.write(h);
        out.write(data.toByteArray());
        Files.write(file, out.toByteArray());
    }
}
