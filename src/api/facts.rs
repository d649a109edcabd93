//! Catalog facts the reference prints: regions, their tiers, GPU models per tier, GPU counts.
//! The client checks input against them before sending; the simulator serves them.

/// Regions of the advanced tier (their GPUs and prices differ from the legacy tier).
pub const ADVANCED_REGIONS: [&str; 4] = ["FINLAND-1", "FINLAND-2", "FINLAND-3", "ICELAND-1"];
/// `CANADA-1`; older pages also name `NORWAY-1` and `US-1`.
pub const LEGACY_REGIONS: [&str; 3] = ["CANADA-1", "NORWAY-1", "US-1"];
pub const ADVANCED_GPU_MODELS: [&str; 4] =
    ["B300-262GB", "B200-180GB", "H200-141GB", "H100-SXM5-80GB"];
pub const LEGACY_GPU_MODELS: [&str; 6] = [
    "H100-PCIe-NVLink-80GB",
    "H100-PCIe-80GB",
    "A100-PCIe-NVLink-80GB",
    "A100-PCIe-80GB",
    "L40",
    "RTX-A6000",
];
/// Every region the reference names (RegionEnum), advanced first.
pub const REGIONS: [&str; 7] = concat(ADVANCED_REGIONS, LEGACY_REGIONS);
/// Every GPU model (GpuModelEnum), advanced first.
pub const GPU_MODELS: [&str; 10] = concat(ADVANCED_GPU_MODELS, LEGACY_GPU_MODELS);

/// `a` then `b`, at compile time: the full lists are the tier lists, never a second spelling.
const fn concat<const A: usize, const B: usize, const N: usize>(
    a: [&'static str; A],
    b: [&'static str; B],
) -> [&'static str; N] {
    assert!(A + B == N, "the lengths must add up");
    let mut out = [""; N];
    let mut i = 0;
    while i < A {
        out[i] = a[i];
        i += 1;
    }
    while i < N {
        out[i] = b[i - A];
        i += 1;
    }
    out
}
/// VolumeTypeEnum's values (**chosen**: the reference prints the schema name only).
pub const VOLUME_TYPES: [&str; 2] = ["NVMe", "HDD"];
/// States of volumes, snapshots and images (**chosen**: the reference prints none).
pub const VOLUME_STATES: [&str; 5] = ["CREATING", "AVAILABLE", "IN_USE", "DELETING", "ERROR"];
pub const SNAPSHOT_STATES: [&str; 5] = ["CREATING", "AVAILABLE", "RESTORING", "DELETING", "ERROR"];
pub const IMAGE_STATES: [&str; 4] = ["CREATING", "AVAILABLE", "DELETING", "ERROR"];
/// GpuCountEnum.
pub const GPU_COUNTS: [i64; 4] = [1, 2, 4, 8];

/// Whether `region` is in the advanced tier.
pub fn is_advanced(region: &str) -> bool {
    ADVANCED_REGIONS.contains(&region)
}

pub fn is_region(region: &str) -> bool {
    is_advanced(region) || LEGACY_REGIONS.contains(&region)
}

pub fn is_gpu_model(model: &str) -> bool {
    ADVANCED_GPU_MODELS.contains(&model) || LEGACY_GPU_MODELS.contains(&model)
}

/// The tier name of `region`: `advanced` or `legacy`.
pub fn tier(region: &str) -> &'static str {
    if is_advanced(region) {
        "advanced"
    } else {
        "legacy"
    }
}

/// Whether a region's tier offers a GPU model: the deploy page's per-tier sets, not
/// troubleshooting's "All regions offer the same GPU types" (see `choices`, "regions' GPU sets").
pub fn region_offers(region: &str, model: &str) -> bool {
    if is_advanced(region) {
        ADVANCED_GPU_MODELS.contains(&model)
    } else if LEGACY_REGIONS.contains(&region) {
        LEGACY_GPU_MODELS.contains(&model)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_combined_lists_are_the_tier_lists() {
        let regions: Vec<&str> = ADVANCED_REGIONS
            .iter()
            .chain(&LEGACY_REGIONS)
            .copied()
            .collect();
        assert_eq!(regions, REGIONS);
        let models: Vec<&str> = ADVANCED_GPU_MODELS
            .iter()
            .chain(&LEGACY_GPU_MODELS)
            .copied()
            .collect();
        assert_eq!(models, GPU_MODELS);
    }
}
