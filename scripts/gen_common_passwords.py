"""Write app/data/common_passwords.txt: the passwords guessers try first.

The bases are the top entries of the well-known public lists (the RockYou leak, the yearly
SplashData and NordPass rankings, the NCSC's 100k list, default credentials of devices and
services); each is written with the endings people add to pass a length or digit rule.
Lower case: the check folds case. Run: python scripts/gen_common_passwords.py
"""

from __future__ import annotations

from pathlib import Path

BASES = """
123456 password 123456789 12345678 12345 qwerty 1234567 111111 1234567890 123123 abc123
1234 password1 iloveyou 1q2w3e4r 000000 qwerty123 zaq12wsx dragon sunshine princess letmein
654321 monkey 27653 1qaz2wsx 123321 qwertyuiop superman asdfghjkl trustno1 football
baseball welcome admin master hello freedom whatever qazwsx michael shadow jennifer hunter
ashley jessica charlie mustang jordan harley ranger daniel thomas robert soccer batman
starwars pokemon access flower passw0rd p@ssw0rd p@ssword pa55word login solo loveme
666666 7777777 888888 121212 112233 computer internet killer pepper ginger cheese summer
winter spring autumn secret samsung google apple chocolate butterfly liverpool arsenal
chelsea barcelona tigger buster maggie cookie hannah matrix george andrew joshua nicole
amanda michelle jasmine diamond orange banana purple yellow silver golden hockey lakers
yankees cowboys eagles dallas boston london paris berlin america canada mexico monday
friday august october december january february angel lovely family forever blessed
jesus heaven naruto minecraft fortnite roblox zxcvbnm asdfgh qwertz azerty abcdef abcdefg
abcdefgh abc12345 a1b2c3d4 1a2b3c4d 11111111 00000000 987654321 123qwe qwe123 1qazxsw2
!qaz2wsx q1w2e3r4t5 1q2w3e4r5t 1q2w3e4r5t6y zxcvbn changeme default test test123 guest
root toor administrator user demo sample temp temporary pass pass123 passwort motdepasse
contrasena senha parola wachtwoord haslo salasana losenord qwertyui 1234qwer asdf1234
qwer1234 zaq1xsw2 abcd1234 aa123456 a123456 123456a iloveu letmein1 welcome1 hello123
princess1 monkey1 dragon1 shadow1 master1 football1 baseball1 sunshine1 superman1
michael1 charlie1 jordan23 jordan1 tinkerbell snoopy bubbles hellokitty sweety babygirl
lovelove love123 iloveyou1 iloveyou2 mylove sexy hottie smokey money money123 cash
business office work company manager server database mysql oracle postgres postgresql
sqlserver linux ubuntu debian windows microsoft apple123 android iphone samsung1 nokia
vodafone router modem cisco juniper huawei netgear dlink tplink raspberry raspberrypi
alpine docker kubernetes jenkins gitlab github ansible vagrant openstack nagios zabbix
grafana kibana elastic redis rabbitmq kafka almanac scheduler cronjob crontab operator
viewer superadmin sysadmin webmaster support helpdesk service backup security private
system systems network wireless wifi internet1 qwerty1 qwerty12 qwerty1234 qwertyu
asdfasdf asdf qwerasdf zxcv1234 1qaz 2wsx 3edc 1qaz2wsx3edc qazwsxedc qazxswedc
zaq1zaq1 1q1q1q1q 1a1a1a1a q1q1q1q1 a1a1a1a1 11223344 12341234 12121212 123123123
1111111111 0000000000 9876543210 0987654321 1122334455 1234554321 5555555555 147258369
159753 159357 147852 741852963 789456123 456789 123654 135790 246810 13579 24680 aaaaaa
abcabc abcdabcd aaaaaaaa zzzzzzzz qqqqqqqq xxxxxx killer1 ninja pirate zombie wizard
dolphin tiger lion eagle falcon phoenix dragons warrior legend gamer player nintendo
playstation xbox steam counter halo zelda mario sonic pikachu charizard spiderman ironman
captain marvel avengers thor hulk joker gandalf frodo hobbit harrypotter hogwarts
sherlock doctorwho startrek enterprise matrix1 neo morpheus trinity skywalker vader
yoda chewbacca jedi sith mickey minnie donald goofy disney simpsons homer bart lisa
marge snoopy1 garfield scooby batman1 robin superman2 flash wonder metallica slipknot
nirvana beatles queen elvis eminem rihanna beyonce justin bieber taylor swift shakira
madonna prince michael jackson britney spears football2 soccer1 basketball tennis golf
rugby cricket boxing hockey1 skate surfing fishing hunting camping bigdog puppy kitty
kitten doggie pussycat rabbit bunny turtle monkey12 donkey horse pony cowboy cowgirl
sugar honey candy cupcake muffin pumpkin peaches cherry strawberry blueberry coffee
tea water fire earth wind storm thunder lightning rainbow sunny moon star stars galaxy
universe planet mercury venus mars jupiter saturn pluto heaven1 angel1 angels devil
hell satan god godisgood jesus1 christ christian faith hope grace trinity1 bible church
mother father mommy daddy sister brother family1 friends friend bestfriend lover
sweetheart darling baby babyboy princesa amor amore cariño bonjour ciao hola salut
hallo welkom willkommen bienvenue benvenuto bemvindo test1 test12 testing tester
testtest qwerty01 password01 password12 password123 pass1234 pass12345 admin1 admin12
admin123 admin1234 root123 toor123 guest123 user123 user1234 demo123 login123 secret123
master123 welcome12 letmein12 changeme1 changeme123 default1 default123 passpass
password2 password3 password9 password99 password01! superuser manager1 service1 backup1
oracle1 mysql123 postgres1 sqlpass dbadmin dbpass webadmin siteadmin netadmin
""".split()

# Well-known entries of ten characters or more, kept as they are.
LONG = """
1234567890 0987654321 qwertyuiop 1q2w3e4r5t qwerty123456 1qaz2wsx3edc qazwsxedcrfv
1234qwerasdf 1234567890q q1w2e3r4t5y6 a1b2c3d4e5 a1s2d3f4g5 zaq12wsxcde3 !qaz@wsx#edc
1qaz!qaz 1qaz@wsx passw0rd123 p@ssw0rd123 p@ssw0rd1 p@ssw0rd! p@$$w0rd p@55w0rd
iloveyou123 iloveyou12 iloveyou1! princess123 sunshine123 football123 baseball123
superman123 michael123 charlie123 monkey123 dragon123 shadow123 master1234 welcome123!
welcome2024 welcome2025 welcome2026 password2024 password2025 password2026 summer2024
summer2025 summer2026 winter2024 winter2025 winter2026 spring2025 autumn2025 fall2025
changeme123! administrator1 administrator123 letmein123! trustno1trustno1 abcdefghij
abcdefghijk abcdefghijkl abcdefghijklmnop abc1234567 abcd123456 abcde12345 a1234567890
1234567890a 123456789a 123456789q aa12345678 qwertyuiop1 qwertyuiop123 asdfghjkl1
asdfghjkl123 zxcvbnm123 zxcvbnm1234 qwerty12345 qwerty1234567 1q2w3e4r5t6y7u8i
correcthorsebatterystaple correct-horse-battery-staple thequickbrownfox
passwordpassword password1234 password12345 password123456 password!23 password1!
password123! password@123 password#1 password1234! qwerty123! qwerty123!@# 123qweasd
123qweasdzxc qweasdzxc123 qweasdzxc 1qazxsw23edc zxcasdqwe123 asdqwe123 123abc456
myp@ssword mypassword mypassword1 mypassword123 secretpassword supersecret
topsecret123 letmeinnow iloveyouso loveyouforever
""".split()

# The endings most often added; the top bases get the long list.
SUFFIXES = ["", "1", "12", "123", "1234", "12345", "!", "1!", "123!", "01", "2024", "2025",
            "2026"]
MORE_SUFFIXES = ["2", "123456", "12345678", "!!", "12!", "@123", "#1", "007", "69", "99",
                 "00", "11", "321", "2000", "2020", "2021", "2022", "2023", "!@#",
                 "123456789", "1234567890"]
TOP = 40  # how many of the first bases get MORE_SUFFIXES
LEET_TOP = 100  # how many get a@ o0 e3 s$ spellings


def leet(word: str) -> set[str]:
    return {word.replace("a", "@").replace("o", "0"), word.replace("s", "$"),
            word.replace("e", "3").replace("o", "0").replace("a", "4")} - {word}


def build() -> list[str]:
    entries = set(LONG)
    for rank, base in enumerate(BASES):
        if base.isdigit() or len(base) < 4:
            entries |= {base + s for s in ("", "a", "q", "!", "abc", "qwe")}
            continue
        endings = SUFFIXES + (MORE_SUFFIXES if rank < TOP else [])
        entries |= {base + s for s in endings}
        if rank < LEET_TOP:
            entries |= {w + s for w in leet(base) for s in ("", "1", "123", "!")}
    return sorted({e.casefold() for e in entries})


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "app" / "data" / "common_passwords.txt"
    words = build()
    target.write_text("\n".join(words) + "\n", encoding="utf-8")
    print(f"{len(words)} entries -> {target}")  # noqa: T201  (a command-line script)
