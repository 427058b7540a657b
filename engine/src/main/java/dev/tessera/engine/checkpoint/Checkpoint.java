package dev.tessera.engine.checkpoint;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The safetensors of a Hugging Face checkpoint directory, chosen by {@link WeightFileSet}: {@code model.safetensors}
 * or {@code diffusion_pytorch_model.safetensors}, the shards of their index, or every other {@code *.safetensors}
 * file, with weight variants ({@code .fp16}, {@code .non_ema}) ignored next to plain weights as diffusers does. All
 * headers are read and validated when the checkpoint is opened; tensor lookups that fail name the file that should
 * hold the tensor.
 *
 * <p>Owns the open shard files: {@link #close()} it.
 */
public final class Checkpoint implements AutoCloseable {
    public static final String INDEX = "model.safetensors.index.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Path dir;
    /** Where a missing tensor is reported: the index file, or the single safetensors file. */
    private final Path catalog;
    private final Map<String, SafeTensorsFile> files;
    private final Map<String, TensorInfo> tensors;

    private Checkpoint(Path dir, Path catalog, Map<String, SafeTensorsFile> files, Map<String, TensorInfo> tensors) {
        this.dir = dir;
        this.catalog = catalog;
        this.files = files;
        this.tensors = tensors;
    }

    /** Opens every safetensors file of {@code dir} and validates its header. */
    public static Checkpoint open(Path dir) {
        if (!Files.isDirectory(dir)) throw new CheckpointException(dir, null, "not a checkpoint directory");
        Map<String, SafeTensorsFile> files = new TreeMap<>();
        try {
            WeightFileSet set = WeightFileSet.of(dir);
            Path index = set.index();
            Map<String, TensorInfo> tensors = new LinkedHashMap<>();
            if (index != null) {
                Map<String, String> weightMap = readIndex(index);
                for (String shard : new java.util.TreeSet<>(weightMap.values())) {
                    Path p = dir.resolve(shard).normalize();
                    if (!p.startsWith(dir.normalize())) {
                        throw new CheckpointException(index, null, "shard " + shard + " lies outside the directory");
                    }
                    files.put(shard, SafeTensorsFile.open(p));
                }
                for (Map.Entry<String, String> e : weightMap.entrySet()) {
                    SafeTensorsFile f = files.get(e.getValue());
                    TensorInfo t = f.tensors().get(e.getKey());
                    if (t == null) {
                        throw new CheckpointException(f.path(), e.getKey(), "missing tensor (listed in "
                                + index.getFileName() + ")");
                    }
                    tensors.put(e.getKey(), t);
                }
                return new Checkpoint(dir, index, files, tensors);
            }
            List<Path> shards = set.files();
            for (Path p : shards) {
                SafeTensorsFile f = SafeTensorsFile.open(p);
                files.put(p.getFileName().toString(), f);
                for (TensorInfo t : f.tensors().values()) {
                    TensorInfo prev = tensors.put(t.name(), t);
                    if (prev != null) {
                        throw new CheckpointException(p, t.name(), "tensor also present in " + prev.file());
                    }
                }
            }
            return new Checkpoint(dir, shards.size() == 1 ? shards.get(0) : dir, files, tensors);
        } catch (IOException e) {
            files.values().forEach(SafeTensorsFile::close);
            throw new CheckpointException(dir, null, "cannot read: " + e.getMessage(), e);
        } catch (RuntimeException e) {
            files.values().forEach(SafeTensorsFile::close);
            throw e;
        }
    }

    private static Map<String, String> readIndex(Path index) {
        JsonNode root;
        try {
            root = JSON.readTree(index.toFile());
        } catch (IOException e) {
            throw new CheckpointException(index, null, "invalid JSON: " + e.getMessage(), e);
        }
        JsonNode map = root == null ? null : root.get("weight_map");
        if (map == null || !map.isObject()) throw new CheckpointException(index, null, "no weight_map object");
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = map.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!e.getValue().isTextual()) {
                throw new CheckpointException(index, e.getKey(), "weight_map value is not a file name");
            }
            out.put(e.getKey(), e.getValue().asText());
        }
        return out;
    }

    public Path dir() {
        return dir;
    }

    public boolean has(String name) {
        return tensors.containsKey(name);
    }

    /** Names of every tensor of the checkpoint, in file order. */
    public java.util.Set<String> tensorNames() {
        return java.util.Collections.unmodifiableSet(tensors.keySet());
    }

    /** The tensor {@code name}, or a {@link CheckpointException} naming the file that should hold it. */
    public TensorInfo tensor(String name) {
        TensorInfo t = tensors.get(name);
        if (t == null) throw new CheckpointException(catalog, name, "missing tensor");
        return t;
    }

    /** The tensor {@code name}, checked to be a float weight of exactly {@code shape}. */
    public TensorInfo expect(String name, long... shape) {
        TensorInfo t = tensor(name);
        if (!Arrays.equals(t.shape(), shape)) {
            throw new CheckpointException(t.file(), name, "wrong shape " + t.shapeString() + ", expected "
                    + Arrays.toString(shape));
        }
        if (!t.dtype().isFloatWeight()) {
            throw new CheckpointException(t.file(), name, "unsupported dtype " + t.dtype()
                    + " (supported: F32, F16, BF16)");
        }
        return t;
    }

    public float[] readFloats(TensorInfo t) {
        return fileOf(t).readFloats(t);
    }

    /** Reads a whole {@link DType#I32} tensor. */
    public int[] readInts(TensorInfo t) {
        return fileOf(t).readInts(t);
    }

    public long writeFp32(TensorInfo t, WritableByteChannel out) {
        return fileOf(t).writeFp32(t, out);
    }

    private SafeTensorsFile fileOf(TensorInfo t) {
        SafeTensorsFile f = files.get(dir.relativize(t.file()).toString());
        if (f == null) {
            for (SafeTensorsFile candidate : files.values()) {
                if (candidate.path().equals(t.file())) return candidate;
            }
            throw new IllegalArgumentException(t.name() + " is not in this checkpoint");
        }
        return f;
    }

    /**
     * Feeds what identifies the weights to {@code digest}: for each safetensors file (sorted by name) its name,
     * size, modification time and full JSON header. Content bytes are not hashed (see the engine README).
     */
    public void fingerprint(MessageDigest digest) {
        try {
            for (Map.Entry<String, SafeTensorsFile> e : files.entrySet()) {
                SafeTensorsFile f = e.getValue();
                digest.update(e.getKey().getBytes(StandardCharsets.UTF_8));
                digest.update(Long.toString(f.fileSize()).getBytes(StandardCharsets.UTF_8));
                digest.update(Long.toString(Files.getLastModifiedTime(f.path()).toMillis())
                        .getBytes(StandardCharsets.UTF_8));
                digest.update(f.headerBytes());
            }
        } catch (IOException e) {
            throw new CheckpointException(dir, null, "cannot stat: " + e.getMessage(), e);
        }
    }

    public List<Path> files() {
        List<Path> out = new ArrayList<>();
        for (SafeTensorsFile f : files.values()) out.add(f.path());
        return out;
    }

    @Override
    public void close() {
        files.values().forEach(SafeTensorsFile::close);
    }
}
