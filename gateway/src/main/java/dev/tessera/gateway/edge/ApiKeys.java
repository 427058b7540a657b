package dev.tessera.gateway.edge;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * The API keys the server accepts, each naming its {@link Tenant}. Clients send one as
 * {@code authorization: Bearer <key>} (gRPC metadata, an HTTP header, the WebSocket upgrade or its first message).
 *
 * <p>Keys come from a file or an environment variable, one {@code tenant:key} entry per line (file) or per comma
 * (variable); {@code #} starts a comment line in a file. A key is at least 16 characters, with no spaces. After the
 * key, an entry may set its tenant's own quota limits ({@link QuotaOverride}), e.g.
 * {@code acme:k3y... max-jobs=4 tokens-per-minute=60000}; limits it does not name are the server's defaults. Two
 * keys of one tenant share its quota, so they must not set different limits. Only SHA-256 digests of
 * the keys are kept, and a presented key is compared with every one of them in constant time
 * ({@link MessageDigest#isEqual}), so neither the answer's time nor a heap dump reveals a key.
 */
public final class ApiKeys {
    /** Shortest key accepted. */
    public static final int MIN_KEY_CHARS = 16;

    private final List<Entry> entries;
    private final Map<String, QuotaOverride> overrides;

    private record Entry(byte[] digest, Tenant tenant) {
    }

    private ApiKeys(List<Entry> entries, Map<String, QuotaOverride> overrides) {
        if (entries.isEmpty()) throw new IllegalArgumentException("no API keys given");
        this.entries = List.copyOf(entries);
        this.overrides = Map.copyOf(overrides);
    }

    /** Parses {@code tenant:key} entries; {@code source} names where they came from, for errors. */
    public static ApiKeys parse(List<String> lines, String source) {
        Map<String, Tenant> byKey = new LinkedHashMap<>();
        Map<String, QuotaOverride> overrides = new LinkedHashMap<>();
        int n = 0;
        for (String raw : lines) {
            n++;
            String line = raw.strip();
            if (line.isEmpty() || line.startsWith("#")) continue;
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new IllegalArgumentException(source + " entry " + n + ": expected tenant:key");
            }
            Tenant tenant = new Tenant(line.substring(0, colon).strip());
            String[] keyAndLimits = line.substring(colon + 1).strip().split("\\s+", 2);
            String key = keyAndLimits[0];
            QuotaOverride limits;
            try {
                limits = keyAndLimits.length > 1 ? QuotaOverride.parse(keyAndLimits[1]) : QuotaOverride.NONE;
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(source + " entry " + n + " (tenant " + tenant.name() + "): "
                        + e.getMessage(), e);
            }
            QuotaOverride before = overrides.putIfAbsent(tenant.name(), limits);
            if (before != null && !before.equals(limits)) {
                throw new IllegalArgumentException(source + " entry " + n + " (tenant " + tenant.name()
                        + "): another key of this tenant sets other limits; its keys share one quota");
            }
            if (key.length() < MIN_KEY_CHARS) {
                throw new IllegalArgumentException(source + " entry " + n + " (tenant " + tenant.name()
                        + "): a key has at least " + MIN_KEY_CHARS + " characters");
            }
            if (byKey.putIfAbsent(key, tenant) != null) {
                throw new IllegalArgumentException(source + " entry " + n + ": the same key is given twice");
            }
        }
        List<Entry> entries = new ArrayList<>();
        byKey.forEach((key, tenant) -> entries.add(new Entry(sha256(key), tenant)));
        return new ApiKeys(entries, overrides);
    }

    public static ApiKeys fromFile(Path file) {
        try {
            return parse(Files.readAllLines(file, StandardCharsets.UTF_8), file.toString());
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read API keys from " + file, e);
        }
    }

    /** Entries separated by commas, as in an environment variable. */
    public static ApiKeys fromList(String entries, String source) {
        return parse(List.of(entries.split(",")), source);
    }

    /**
     * The tenant of an {@code authorization} header value ({@code Bearer <key>}, the scheme in any case), or null
     * when it is missing, malformed or no key matches.
     */
    public @Nullable Tenant authenticate(@Nullable String authorization) {
        if (authorization == null) return null;
        String value = authorization.strip();
        if (value.length() < 7 || !value.regionMatches(true, 0, "Bearer ", 0, 7)) return null;
        byte[] presented = sha256(value.substring(7).strip());
        Tenant found = null;
        for (Entry e : entries) {
            // Every entry is compared, so the time does not say which one matched.
            if (MessageDigest.isEqual(presented, e.digest()) && found == null) found = e.tenant();
        }
        return found;
    }

    /** The limits of {@code tenant}: its keys' overrides over {@code defaults}. */
    public QuotaLimits limits(Tenant tenant, QuotaLimits defaults) {
        return overrides.getOrDefault(tenant.name(), QuotaOverride.NONE).over(defaults);
    }

    /** The tenants, in the order given. */
    public List<Tenant> tenants() {
        return entries.stream().map(Entry::tenant).distinct().toList();
    }

    private static byte[] sha256(String s) {
        try {
            return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public String toString() {
        return "ApiKeys" + tenants().stream().map(Tenant::name).toList();
    }
}
