package dev.tessera.gateway.edge;

import java.util.Locale;
import org.jspecify.annotations.Nullable;

/**
 * The limits one API key sets for its tenant in the key file ({@code tenant:key max-jobs=2 tokens-per-minute=6000}),
 * each overriding the server's default ({@code serve --tenant-...}); a limit not named keeps the default. The names
 * are those of the {@code --tenant-} flags without the prefix; 0 means no limit, as for the flags.
 *
 * @param maxJobs           {@code max-jobs}, or null for the default
 * @param requestsPerSecond {@code requests-per-second}, or null for the default
 * @param tokensPerMinute   {@code tokens-per-minute}, or null for the default
 */
public record QuotaOverride(@Nullable Integer maxJobs, @Nullable Double requestsPerSecond,
                            @Nullable Long tokensPerMinute) {
    /** No override: the defaults apply. */
    public static final QuotaOverride NONE = new QuotaOverride(null, null, null);

    public QuotaOverride {
        // The same checks as the limits themselves, so a bad file is refused when it is read.
        new QuotaLimits(maxJobs == null ? 0 : maxJobs, requestsPerSecond == null ? 0 : requestsPerSecond,
                tokensPerMinute == null ? 0 : tokensPerMinute);
    }

    /** {@code defaults} with this override's limits in place of theirs. */
    public QuotaLimits over(QuotaLimits defaults) {
        return new QuotaLimits(maxJobs != null ? maxJobs : defaults.maxJobs(),
                requestsPerSecond != null ? requestsPerSecond : defaults.requestsPerSecond(),
                tokensPerMinute != null ? tokensPerMinute : defaults.tokensPerMinute());
    }

    /**
     * Parses {@code name=value} words (separated by spaces), e.g. {@code max-jobs=2 requests-per-second=0.5}.
     *
     * @throws IllegalArgumentException naming the word that is not a known limit or not a valid value
     */
    public static QuotaOverride parse(String words) {
        Integer jobs = null;
        Double rps = null;
        Long tpm = null;
        for (String word : words.strip().split("\\s+")) {
            if (word.isEmpty()) continue;
            int eq = word.indexOf('=');
            String name = eq < 0 ? word : word.substring(0, eq).toLowerCase(Locale.ROOT);
            String value = eq < 0 ? "" : word.substring(eq + 1);
            try {
                switch (name) {
                    case "max-jobs" -> jobs = Integer.parseInt(value);
                    case "requests-per-second" -> rps = Double.parseDouble(value);
                    case "tokens-per-minute" -> tpm = Long.parseLong(value);
                    default -> throw new IllegalArgumentException("unknown limit '" + name + "'; the limits are"
                            + " max-jobs, requests-per-second and tokens-per-minute, each written name=value");
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(name + ": '" + value + "' is not a number");
            }
        }
        return new QuotaOverride(jobs, rps, tpm);
    }
}
