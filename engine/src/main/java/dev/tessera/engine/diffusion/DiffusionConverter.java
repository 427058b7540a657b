package dev.tessera.engine.diffusion;

import dev.tessera.engine.checkpoint.Checkpoint;
import dev.tessera.engine.checkpoint.CheckpointException;
import dev.tessera.engine.diffusion.DiffusersLayout.Component;
import dev.tessera.engine.diffusion.clip.ClipTextConfig;
import dev.tessera.engine.diffusion.clip.ClipTextGraph;
import dev.tessera.engine.diffusion.convert.ComponentGraph;
import dev.tessera.engine.diffusion.unet.UNetConfig;
import dev.tessera.engine.diffusion.unet.UNetGraph;
import dev.tessera.engine.diffusion.vae.VaeConfig;
import dev.tessera.engine.diffusion.vae.VaeGraphs;
import dev.tessera.engine.onnx.GraphCache;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * Converts a pipeline's text encoder, UNet and VAE (decoder and encoder) into graphs cached under
 * {@code cacheDir/graphs/sd-<key>/}: {@code text_encoder.onnx}, {@code unet.onnx}, {@code vae_decoder.onnx},
 * {@code vae_encoder.onnx}, each with its {@code .bin} weights. The key hashes the converter version,
 * {@code model_index.json}, every component's config, and each component's safetensors fingerprint (names, sizes,
 * modification times, headers), as for the other converters. Configs are read and every tensor checked before the
 * graphs are written, so a bad checkpoint fails here naming the file and tensor.
 */
public final class DiffusionConverter {
    private static final Logger logger = LoggerFactory.getLogger(DiffusionConverter.class);

    /** The converted graphs. */
    public record Converted(Path dir, Path textEncoder, Path unet, Path vaeDecoder, Path vaeEncoder, boolean reused) {
    }

    private DiffusionConverter() {
    }

    public static Converted convert(DiffusersLayout layout, ClipTextConfig clip, UNetConfig unet, VaeConfig vae,
                                    Path cacheDir) {
        long start = System.nanoTime();
        GraphCache.Entry e = GraphCache.getOrWrite(cacheDir, key(layout), out -> {
            try (Checkpoint te = Checkpoint.open(layout.folder(Component.TEXT_ENCODER))) {
                ComponentGraph.write(te, out, ClipTextGraph.NAME, l -> ClipTextGraph.write(l, clip));
            }
            try (Checkpoint u = Checkpoint.open(layout.folder(Component.UNET))) {
                ComponentGraph.write(u, out, UNetGraph.NAME, l -> UNetGraph.write(l, unet));
            }
            try (Checkpoint v = Checkpoint.open(layout.folder(Component.VAE))) {
                ComponentGraph.write(v, out, VaeGraphs.DECODER, l -> VaeGraphs.writeDecoder(l, vae));
                ComponentGraph.write(v, out, VaeGraphs.ENCODER, l -> VaeGraphs.writeEncoder(l, vae));
            }
        });
        if (e.reused()) {
            logger.info("reusing converted graphs in {}", e.dir());
        } else {
            logger.info("converted diffusion pipeline {} into {} ({} ms)", layout.dir(), e.dir(),
                    (System.nanoTime() - start) / 1_000_000);
        }
        Path d = e.dir();
        return new Converted(d, d.resolve(ClipTextGraph.NAME + ".onnx"), d.resolve(UNetGraph.NAME + ".onnx"),
                d.resolve(VaeGraphs.DECODER + ".onnx"), d.resolve(VaeGraphs.ENCODER + ".onnx"), e.reused());
    }

    static String key(DiffusersLayout layout) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(ComponentGraph.VERSION.getBytes(StandardCharsets.UTF_8));
            d.update(read(layout.dir().resolve(DiffusersLayout.INDEX)));
            for (Component c : Component.values()) d.update(read(layout.configFile(c)));
            for (Component c : new Component[] {Component.TEXT_ENCODER, Component.UNET, Component.VAE}) {
                try (Checkpoint ck = Checkpoint.open(layout.folder(c))) {
                    ck.fingerprint(d);
                }
            }
            return "sd-" + HexFormat.of().formatHex(d.digest(), 0, 16);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw new CheckpointException(file, null, "cannot read: " + e.getMessage(), e);
        }
    }
}
