// Run once by the mongo image on its first start (/docker-entrypoint-initdb.d), as the
// root user: creates the application's user, which may read and write the crawler's
// database and nothing else. The scheduler and the Scrapyd nodes connect as this user;
// root stays for administration. Names and password come from the environment
// (docker-compose.yml), so they may contain any character.
// CRAWLER_DB: the name before NEWSCRAWL_DB, still read (crawler/env.py)
const dbName = process.env.NEWSCRAWL_DB || process.env.CRAWLER_DB || "news";
const user = process.env.MONGO_APP_USER;
const password = process.env.MONGO_APP_PASSWORD;
if (!user || !password) {
  throw new Error("set MONGO_APP_USER and MONGO_APP_PASSWORD (.env)");
}
db.getSiblingDB("admin").createUser({
  user: user,
  pwd: password,
  roles: [{ role: "readWrite", db: dbName }],
});
// mongo-express (the compose file's debug profile) browses as a user of its own that may
// read the crawler's database and nothing else, never as root; made when its password is set.
const expressUser = process.env.MONGO_EXPRESS_USER || "newscrawl-express";
const expressPassword = process.env.MONGO_EXPRESS_PASSWORD;
if (expressPassword) {
  db.getSiblingDB("admin").createUser({
    user: expressUser,
    pwd: expressPassword,
    roles: [{ role: "read", db: dbName }],
  });
}
