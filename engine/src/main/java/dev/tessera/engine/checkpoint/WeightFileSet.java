package dev.tessera.engine.checkpoint;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Which safetensors files of a directory hold its weights, by the naming rules of transformers and diffusers.
 *
 * <p>A weight base is {@code model} (transformers, and a pipeline's {@code text_encoder/}) or
 * {@code diffusion_pytorch_model} (a diffusers {@code unet/}, {@code vae/}, {@code controlnet/}). Hub repositories
 * often hold several <em>variants</em> of the same weights side by side, e.g. Stable Diffusion 1.5's {@code unet/}
 * has {@code diffusion_pytorch_model.safetensors}, {@code diffusion_pytorch_model.fp16.safetensors} and
 * {@code diffusion_pytorch_model.non_ema.safetensors}. As diffusers' {@code from_pretrained} without
 * {@code variant=}: the plain file (or the plain sharded index) is taken and variants are ignored. When there is no
 * plain file and exactly one variant, that variant is taken (the fp16-only repositories); several variants and no
 * plain file is refused, naming them, rather than guessed.
 *
 * @param index the sharded index to read, or null
 * @param files the safetensors files to open when {@code index} is null
 */
record WeightFileSet(Path index, List<Path> files) {
    private static final List<String> BASES = List.of("model", "diffusion_pytorch_model");
    /** {@code <base>.<variant>.safetensors} and {@code <base>.safetensors.index.<variant>.json}. */
    private static final Pattern VARIANT_FILE = Pattern.compile(
            "(model|diffusion_pytorch_model)\\.([A-Za-z0-9_]+)\\.safetensors");
    private static final Pattern VARIANT_INDEX = Pattern.compile(
            "(model|diffusion_pytorch_model)\\.safetensors\\.index\\.([A-Za-z0-9_]+)\\.json");
    /** Shards {@code <base>-00001-of-00002.safetensors} and their variant form {@code <base>.fp16-00001-of-…}. */
    private static final Pattern SHARD = Pattern.compile(
            "(model|diffusion_pytorch_model)(?:\\.([A-Za-z0-9_]+))?-\\d+-of-\\d+\\.safetensors");

    static WeightFileSet of(Path dir) throws IOException {
        for (String base : BASES) {
            Path index = dir.resolve(base + ".safetensors.index.json");
            if (Files.exists(index)) return new WeightFileSet(index, List.of());
        }
        for (String base : BASES) {
            Path single = dir.resolve(base + ".safetensors");
            if (Files.exists(single)) return new WeightFileSet(null, List.of(single));
        }
        List<Path> plain = new ArrayList<>();
        Map<String, List<Path>> variants = new TreeMap<>();
        try (Stream<Path> s = Files.list(dir)) {
            for (Path p : s.sorted().toList()) {
                String name = p.getFileName().toString();
                Matcher m;
                if ((m = VARIANT_INDEX.matcher(name)).matches()) {
                    variants.computeIfAbsent(m.group(2), v -> new ArrayList<>()).add(0, p);
                } else if ((m = VARIANT_FILE.matcher(name)).matches()) {
                    variants.computeIfAbsent(m.group(2), v -> new ArrayList<>()).add(p);
                } else if ((m = SHARD.matcher(name)).matches() && m.group(2) != null) {
                    variants.computeIfAbsent(m.group(2), v -> new ArrayList<>()).add(p);
                } else if (name.endsWith(".safetensors")) {
                    plain.add(p);
                }
            }
        }
        if (!plain.isEmpty()) return new WeightFileSet(null, plain);
        if (variants.size() > 1) {
            throw new CheckpointException(dir, null, "several weight variants " + variants.keySet()
                    + " and no plain weights file; keep one variant in the directory");
        }
        if (variants.isEmpty()) throw new CheckpointException(dir, null, "no *.safetensors file");
        List<Path> only = variants.values().iterator().next();
        Path first = only.get(0);
        if (first.getFileName().toString().endsWith(".json")) return new WeightFileSet(first, List.of());
        return new WeightFileSet(null, only);
    }
}
