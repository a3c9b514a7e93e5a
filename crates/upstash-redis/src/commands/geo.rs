//! Geospatial commands.
//!
//! Members are written as `(longitude, latitude, member)` triples:
//! `&[(13.361389, 38.115556, "Palermo")]`.

use crate::commands::options::flag;
use crate::{Command, GeoAddOptions, GeoSearch, GeoUnit, ToArgs};

commands! {
    /// `GEOADD key [NX|XX] [CH] longitude latitude member [...]`: how many members were added
    /// (with `CH`: added or moved).
    fn geoadd(key: impl ToArgs, members: impl ToArgs, options: GeoAddOptions) -> u64 =>
        Command::new("GEOADD").arg(key).arg(options).arg(members);
    /// `GEODIST key member1 member2 unit`: the distance in `unit`, or `None` when a member is
    /// missing.
    fn geodist(key: impl ToArgs, member1: impl ToArgs, member2: impl ToArgs, unit: GeoUnit) -> Option<f64> =>
        Command::new("GEODIST").arg(key).arg(member1).arg(member2).arg(unit);
    /// `GEOHASH key member [member ...]`: per member, its 11-character geohash or `None`.
    fn geohash(key: impl ToArgs, members: impl ToArgs) -> Vec<Option<String>> =>
        Command::new("GEOHASH").arg(key).arg(members);
    /// `GEOPOS key member [member ...]`: per member, its `(longitude, latitude)` or `None`.
    fn geopos(key: impl ToArgs, members: impl ToArgs) -> Vec<Option<(f64, f64)>> =>
        Command::new("GEOPOS").arg(key).arg(members);
    /// `GEOSEARCH key FROMMEMBER|FROMLONLAT ... BYRADIUS|BYBOX ... [ASC|DESC] [COUNT n [ANY]]
    /// [WITHCOORD] [WITHDIST] [WITHHASH]`: the matching members; decode as `Vec<String>`, or
    /// with `with_*` flags as tuples (`with_dist()`: `Vec<(String, f64)>`).
    fn geosearch<T>(key: impl ToArgs, query: GeoSearch) -> Vec<T> =>
        Command::new("GEOSEARCH").arg(key).arg(query.args(true));
    /// `GEOSEARCHSTORE destination source ... [STOREDIST]`: stores the matching members (the
    /// query's `with_*` flags are ignored); with `store_dist` their distances become the
    /// scores. How many members were stored.
    fn geosearchstore(destination: impl ToArgs, source: impl ToArgs, query: GeoSearch, store_dist: bool) -> u64 =>
        Command::new("GEOSEARCHSTORE")
            .arg(destination)
            .arg(source)
            .arg(query.args(false))
            .arg(flag(store_dist, "STOREDIST"));
}

#[cfg(test)]
mod tests {
    use crate::commands::options::testing::{argv, client};
    use crate::{GeoAddOptions, GeoFrom, GeoSearch, GeoShape, GeoUnit};

    #[test]
    fn arguments() {
        let r = client();
        assert_eq!(
            argv(r.geoadd("g", [(13.5, 38.25, "P")], GeoAddOptions::new().ch())),
            ["GEOADD", "g", "CH", "13.5", "38.25", "P"]
        );
        assert_eq!(
            argv(r.geodist("g", "a", "b", GeoUnit::Kilometers)),
            ["GEODIST", "g", "a", "b", "km"]
        );
        let q = GeoSearch::new(
            GeoFrom::LonLat(15.0, 37.0),
            GeoShape::Radius(200.0, GeoUnit::Kilometers),
        )
        .asc()
        .with_dist();
        assert_eq!(
            argv(r.geosearch::<(String, f64)>("g", q.clone())),
            [
                "GEOSEARCH",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "ASC",
                "WITHDIST"
            ]
        );
        assert_eq!(
            argv(r.geosearchstore("d", "g", q, true)),
            [
                "GEOSEARCHSTORE",
                "d",
                "g",
                "FROMLONLAT",
                "15",
                "37",
                "BYRADIUS",
                "200",
                "km",
                "ASC",
                "STOREDIST"
            ]
        );
    }
}
