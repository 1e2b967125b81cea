"""Model prices over time: genai-prices' dated prices, then model-prices for the models
genai-prices lacks, overridden by the pricing file (config/pricing.yaml; star_pipeline/defaults/ when installed).

model-prices (models.dev's table, shipped inside the package: nothing is fetched)
is the second maintained source, as LiteLLM's table is ccusage's: for a model
genai-prices does not know (a new Codex model, say) its current standard rates
apply to every call; its dates are those of the table's commits, not of the
provider's price changes, so no history is taken from it. Of its context tiers
the first is kept (one long-context threshold, like genai-prices').

`price_rows(models)` gives, for each model name seen in the usage rows, every
price period that applies to it: (model, valid_from, valid_to, prices per
million tokens by category, long-context threshold and prices). Costs are then
computed per API call in SQL (star_pipeline/aggregate/fact_token_usage.sql),
never on aggregated tokens. A model neither source knows gets no row: its calls
have a NULL cost and the check `unknown_models_listed` names it.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

from star_pipeline.storage.shipped_files import DEFAULTS_DIR

PRICING_PATH = DEFAULTS_DIR / "pricing.yaml"
CATEGORIES = ("input", "output", "cache_read", "cache_write", "cache_write_1h")
PIPELINE_CODE_VERSION = "1"


class PricingConfigError(ValueError):
    """The pricing file is malformed."""


@dataclass(frozen=True)
class PriceRow:
    model: str
    provider: str | None
    price_source: str  # genai-prices <version> | pricing.yaml
    valid_from: date | None
    valid_to: date | None
    prices: dict  # category -> USD per million tokens (float)
    long_context_threshold: int | None
    long_context_prices: dict  # category -> USD per million tokens above the threshold


def pricing_config(path: Path | None = None) -> tuple[dict, str]:
    """The parsed pricing file (default: PRICING_PATH, read when called) and the first 8 hex of its sha256.

    Read at every call, parsed once per content: a build asks about 70 times (every aggregate SQL and
    version), and YAML parsing took 0.4 s of a small build. The dict returned is shared: don't change it."""
    path = path or PRICING_PATH
    return _parsed_pricing(path, path.read_bytes())


@functools.lru_cache(maxsize=8)
def _parsed_pricing(path: Path, data: bytes) -> tuple[dict, str]:
    import yaml

    try:
        config = yaml.safe_load(data) or {}
    except yaml.YAMLError as exc:
        raise PricingConfigError(f"{path}: not valid YAML: {exc}") from None
    unknown = set(config) - {"fast_multiplier", "models"}
    if unknown:
        raise PricingConfigError(f"{path}: unknown keys {sorted(unknown)}; use fast_multiplier and models.")
    models = config.get("models") or {}
    if not isinstance(models, dict):
        raise PricingConfigError(f"{path}: 'models' must map model names to lists of price periods.")
    for model, periods in models.items():
        if not isinstance(periods, list):
            raise PricingConfigError(f"{path}: models.{model} must be a list of price periods.")
        for period in periods:
            bad = set(period) - {"valid_from", *CATEGORIES}
            if bad:
                raise PricingConfigError(f"{path}: models.{model}: unknown price fields {sorted(bad)}.")
    return config, hashlib.sha256(data).hexdigest()[:8]


def pipeline_version(path: Path | None = None) -> str:
    """Code version + pricing config hash + both price packages' versions: changes whenever a cost could."""
    from importlib.metadata import version

    _, digest = pricing_config(path)
    return (f"p{PIPELINE_CODE_VERSION}-pricing-{digest}-genai-prices-{version('genai-prices')}"
            f"-model-prices-{version('model-prices')}")


def _tiered(value) -> tuple[float | None, int | None, float | None]:
    """(base, threshold, above) from a genai-prices price (Decimal or TieredPrices)."""
    if value is None:
        return None, None, None
    if isinstance(value, Decimal | int | float):
        return float(value), None, None
    tiers = getattr(value, "tiers", None) or []
    base = float(value.base)
    if not tiers:
        return base, None, None
    return base, int(tiers[0].start), float(tiers[0].price)


def _package_periods(model: str) -> tuple[str | None, list[tuple[date | None, dict, int | None, dict]]]:
    from genai_prices import data_snapshot

    snapshot = data_snapshot.get_snapshot()
    provider = None
    for provider_id in ("anthropic", "openai", None):
        try:
            found = snapshot.find_provider_model(model, None, provider_id, None)
        except Exception:  # no match for this provider
            continue
        if found:
            provider, model_info = found
            break
    else:
        return None, []
    prices = model_info.prices
    if prices is None:
        return None, []
    conditional = prices if isinstance(prices, list) else [type("P", (), {"constraint": None, "prices": prices})()]
    periods = []
    for item in conditional:
        start = getattr(item.constraint, "start_date", None) if item.constraint is not None else None
        if item.constraint is not None and start is None:
            continue  # other constraints (time of day...) are not modelled here
        p = item.prices
        base, long, threshold = {}, {}, None
        for category, attribute in (
            ("input", "input_mtok"),
            ("output", "output_mtok"),
            ("cache_read", "cache_read_mtok"),
            ("cache_write", "cache_write_mtok"),
            ("cache_write_1h", "cache_write_1h_mtok"),
        ):
            value, tier_start, above = _tiered(getattr(p, attribute, None))
            if value is not None:
                base[category] = value
            if tier_start is not None:
                threshold, long[category] = tier_start, above
        periods.append((start, base, threshold, long))
    periods.sort(key=lambda period: period[0] or date.min)
    return getattr(provider, "id", None), periods


def _second_source_periods(model: str) -> tuple[str | None, list[tuple[date | None, dict, int | None, dict]]]:
    """model-prices' current rates for `model`, as one period valid at all times (see the module docstring)."""
    import model_prices

    rates = model_prices.rates(model)
    if rates is None or rates.input is None or rates.output is None:
        return None, []
    base = {"input": float(rates.input), "output": float(rates.output)}
    if rates.cache_read is not None:
        base["cache_read"] = float(rates.cache_read)
    if rates.cache_write is not None:
        base["cache_write"] = float(rates.cache_write)
    if rates.cache_write_1h_multiple:
        base["cache_write_1h"] = float(rates.input) * float(rates.cache_write_1h_multiple)
    threshold, long = None, {}
    if rates.tiers:
        tier = rates.tiers[0]
        threshold = int(tier.above)
        long = {c: float(v) for c, v in (("input", tier.input), ("output", tier.output), ("cache_read", tier.cache_read),
                                          ("cache_write", tier.cache_write)) if v is not None}
    return rates.provider, [(None, base, threshold, long)]


def price_rows(models: list[str], path: Path | None = None) -> list[PriceRow]:
    from importlib.metadata import version

    path = path or PRICING_PATH
    config, _ = pricing_config(path)
    overrides = config.get("models") or {}
    package = f"genai-prices {version('genai-prices')}"
    rows: list[PriceRow] = []
    for model in sorted(set(models)):
        provider, periods = _package_periods(model)
        source = package
        if not periods:
            provider, periods = _second_source_periods(model)
            source = f"model-prices {version('model-prices')}"
        if model in overrides:
            merged = []
            base_prices = periods[-1][1] if periods else {}
            for period in overrides[model]:
                start = period.get("valid_from")
                prices = {**base_prices, **{c: float(period[c]) for c in CATEGORIES if c in period}}
                if "input" not in prices or "output" not in prices:
                    raise PricingConfigError(f"{path}: models.{model} needs at least input and output prices.")
                merged.append((start, prices, None, {}))
            if merged and merged[0][0] is not None and periods:
                # the package's periods still apply before the first override
                merged = [p for p in periods if p[0] is None or p[0] < merged[0][0]] + merged
            periods, source = sorted(merged, key=lambda p: p[0] or date.min), f"{path.name} over {package}"
        for index, (start, prices, threshold, long) in enumerate(periods):
            end = periods[index + 1][0] if index + 1 < len(periods) else None
            prices = dict(prices)
            if "input" in prices and "cache_write_1h" not in prices:
                prices["cache_write_1h"] = 2 * prices["input"]
            if long and "input" in long and "cache_write_1h" not in long:
                long["cache_write_1h"] = 2 * long["input"]
            rows.append(PriceRow(model, provider, source, start, end, prices, threshold, long))
    return rows
