"""Product vocabulary: nouns by category, compounds, aliases, and words that describe rather than name.

Plain data, no logic. Every word is lower case and singular unless it is listed in PLURAL_ONLY. Kept
deliberately general (storefront catalogues at large), not tuned to the test fixture; add words freely.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Category → product nouns. A noun belongs to exactly one category (first listing wins).
_NOUNS_BY_CATEGORY: dict[str, str] = {
    "apparel": """
        bandana headband scrunchie hairband bib earmuffs balaclava sarong kilt leotard wetsuit dress
        gown skirt shirt t-shirt tee blouse top camisole tunic polo sweater jumper cardigan pullover
        hoodie sweatshirt jacket coat parka blazer vest gilet waistcoat anorak windbreaker poncho
        cape kimono suit tuxedo romper jumpsuit overalls onesie bodysuit pants trousers jeans shorts
        leggings joggers sweatpants chinos tights bra bralette lingerie panties briefs boxers
        underwear sock stocking pajamas nightgown robe bathrobe swimsuit bikini tankini trunks hat
        cap beanie beret fedora visor scarf shawl glove mitten belt tie bowtie suspenders apron
        uniform costume sari kaftan dungarees puffer
    """,
    "shoes": """
        skate rollerblade shoe sneaker trainer boot bootie sandal slipper loafer moccasin oxford
        brogue pump heel stiletto wedge mule clog espadrille flat flip-flop slide cleat footwear
    """,
    "bags": """
        keychain lanyard cosmetic-bag fannypack bag handbag purse tote backpack rucksack satchel
        clutch wallet suitcase luggage duffel duffle briefcase pouch wristlet crossbody messenger
        sackpack
    """,
    "jewellery": """
        barrette hairpin necklace pendant choker chain bracelet bangle anklet ring earring stud hoop
        brooch pin cufflink watch smartwatch locket tiara charm sunglasses glasses eyeglasses
    """,
    "furniture": """
        hammock bookshelf rack hanger console sideboard futon bunk vanity sofa couch loveseat
        sectional chair armchair recliner stool bench ottoman table desk nightstand dresser wardrobe
        cabinet bookcase bookshelf shelf bed headboard crib mattress
    """,
    "home": """
        tapestry hook umbrella globe tablecloth runner bedspread canopy slipcover fan heater
        humidifier purifier vacuum iron bulb doorbell thermostat bird-feeder birdhouse leash collar
        harness aquarium piggy-bank snow-globe jewelry-box lamp chandelier lantern candle vase
        mirror clock rug carpet mat curtain drape blind pillow cushion blanket throw quilt duvet
        comforter sheet pillowcase towel basket planter pot plant tree frame painting poster wreath
        doormat hamper ornament figurine sculpture bookend diffuser
    """,
    "kitchen": """
        scale shaker opener corkscrew strainer steamer cooker fryer microwave refrigerator fridge
        grill cooler dripper infuser sieve rolling-pin tin mould mold mug cup glass tumbler bottle
        flask jar plate dish bowl platter saucer teapot kettle pitcher carafe pan skillet wok
        saucepan pot casserole knife fork spoon spatula whisk ladle tongs peeler grater colander
        blender mixer toaster juicer grinder tray container lunchbox cutlery utensil chopsticks
        thermos decanter coaster placemat napkin
    """,
    "electronics": """
        battery flashlight headlamp tripod lens gimbal stylus hub drive ssd calculator scanner
        shredder telescope microscope binoculars thermometer phone smartphone tablet laptop computer
        monitor keyboard mouse headphones headset earbuds earphones speaker soundbar camera webcam
        charger cable adapter router console controller drone printer microphone turntable projector
        television tv remote tracker e-reader radio
    """,
    "toys": """
        helicopter airplane plane jet boat sailboat ship rocket tractor excavator locomotive slime
        stacker mobile playmat swing trampoline float toy doll plush puzzle block lego figure figurine
        car truck train robot dinosaur unicorn kite yo-yo rattle teether blaster bike tricycle scooter
        playset dollhouse tile model
    """,
    "beauty": """
        sponge applicator tweezers nail-clipper lipstick lipgloss mascara eyeliner eyeshadow
        foundation concealer blush bronzer highlighter palette serum moisturizer cream lotion
        cleanser toner mask perfume cologne shampoo conditioner soap brush comb razor trimmer
        toothbrush sponge roller curler straightener
    """,
    "sports": """
        stepper rower trampoline frisbee dartboard target bow arrow rod reel lure mitt jersey-shirt
        weight bench brace ball basketball football soccerball volleyball baseball racket racquet
        bat club helmet dumbbell barbell kettlebell tent skateboard surfboard snowboard ski paddle
        treadmill bicycle goggles
    """,
    "music": """
        guitar ukulele banjo mandolin violin viola cello bass drum cajon tambourine harmonica flute
        clarinet saxophone trumpet trombone piano kalimba metronome tuner amplifier
    """,
    "stationery": """
        notebook journal diary planner sketchbook notepad book album binder folder pen pencil marker
        crayon eraser stapler envelope bookmark calendar
    """,
}

# Multi-word product names, matched before single words (the last word may be plural in the title).
# "_" joins words; "-" joins words and stays in the name ("flip-flop").
_COMPOUND_NAMES = """
    tank_top swim_trunks flip-flop fanny_pack card_holder phone_case laptop_stand watch_band
    pillow_cover duvet_cover bed_frame coffee_maker french_press cutting_board espresso_machine
    dutch_oven salad_server wine_glass teddy_bear rubber_duck board_game action_figure play_kitchen
    hair_dryer hair_straightener flat_iron nail_polish lip_balm yoga_mat resistance_band trekking_pole
    snorkel_mask golf_ball sleeping_bag jump_rope wall_hanging string_light fairy_light rolling_pin
    bird_feeder piggy_bank snow_globe jewelry_box power_bank record_player sheet_mask gift_card
    cell_phone eau_de_parfum eau_de_toilette memory_card scale_model model_kit ring_light tea_light
""".split()
COMPOUNDS: dict[tuple[str, ...], str] = {
    tuple(name.replace("-", "_").split("_")): name.replace("_", " ") for name in _COMPOUND_NAMES
}

# Other spellings, brand names and long names → the noun used in prompts.
ALIASES: dict[str, str] = {
    "tshirt": "t-shirt", "tee-shirt": "t-shirt", "pajama": "pajamas", "pyjama": "pajamas", "pyjamas": "pajamas",
    "flipflop": "flip-flop", "flip-flops": "flip-flop", "earbud": "earbuds", "headphone": "headphones",
    "airpods": "earbuds", "iphone": "phone", "ipad": "tablet", "macbook": "laptop", "kindle": "e-reader",
    "sackpack": "bag", "parfum": "perfume", "fragrance": "perfume", "eau de parfum": "perfume",
    "eau de toilette": "perfume", "sofabed": "sofa", "duffle": "duffel", "racquet": "racket",
    "jewelry": "jewellery", "smart-watch": "smartwatch", "tv": "television", "hairdryer": "hair dryer",
    "cell phone": "phone",
}

# Nouns that name a kind of thing only loosely; a specific noun anywhere in the phrase wins over them.
# A model names what it models: "Rocket Scale Model Kit" → rocket, "Model Train" → train.
GENERIC = _words("toy set kit gift decor accessory tool item product bundle collection piece organizer holder model")
GENERIC |= {"scale model", "model kit"}

# Accessory heads: "<noun> case" names a different product than "case" alone, so keep the pair.
ACCESSORY_HEADS = _words("case cover stand holder band strap mount sleeve frame charger protector")

PLURAL_ONLY = _words(
    "pants trousers jeans shorts leggings joggers sweatpants chinos tights panties briefs boxers overalls "
    "dungarees pajamas suspenders sunglasses glasses eyeglasses goggles headphones earbuds earphones "
    "scissors tongs pliers binoculars chopsticks swim-trunks trunks cutlery"
)

# Count words that say how much, never what ("160 Pages", "60 Servings"), even when their number is lost.
COUNT_WORDS = _words("page pages count counts serving servings capsule capsules softgel softgels")

# Words that never name the product themselves (people, audiences, grammar).
AUDIENCE = _words(
    "men man mens women woman womens ladies lady girl girls boy boys kid kids child children baby babies "
    "toddler toddlers infant unisex adult adults teen teens junior juniors youth family families her him"
)

# Prepositions that end the noun phrase ("Mug with Lid", "Case for iPhone", "Dress in Red").
PHRASE_ENDERS = _words("for with in by from featuring feat w without on to of fits fit compatible")
CONJUNCTIONS = _words("and & + or")

# Words that open a clause listing what comes with the product or without it ("Guitar Kit with Gig Bag",
# "Drill incl. Charger"): the clause names the product only when nothing before it does.
CLAUSE_OPENERS = _words("with without including incl includes")
# "Cream + Roller", "Toothbrush Plus 4 Heads" and "Watch and Free Strap" open one only after a product noun;
# elsewhere they join words ("Soft + Cozy Blanket", "Mom + Baby Pajamas") or name a model ("iPhone 15 Plus").
EXTRA_JOINERS = _words("plus +")
# After these, "with" says what the product works with or is made of, not what comes with it: "Compatible with
# iPhone 15 Case" and "Handmade with Love Coffee Mug" read on as one phrase.
DESCRIBED_WITH = _words(
    "compatible works work fits fit made handmade designed crafted filled printed decorated engraved "
    "personalized personalised paired"
)
# "... Batteries (Not) Included": the word before names something in the box, not the product.
INCLUDED = "included"

# Words that turn the noun before them into a description ("Unicorn Print Backpack", "Shark Pattern").
PATTERN_WORDS = _words("print printed pattern patterned design motif theme themed style shaped")

# Phrases that describe a product when another word follows ("Remote Control Car", "Light Up Sneakers").
MODIFIER_PHRASES: tuple[tuple[str, ...], ...] = tuple(
    tuple(phrase.split("_")) for phrase in "remote_control light_up light-up ride_on ride-on pull_along".split()
)

# Model-line words that sit between a brand and a noun without ending the phrase ("iPhone Pro Max Case").
MODEL_WORDS = _words("pro max plus ultra mini lite se air gen edition series")


def _category_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for category, text in _NOUNS_BY_CATEGORY.items():
        for noun in text.split():
            index.setdefault(noun, category)
    return index


NOUN_CATEGORY: dict[str, str] = _category_index()
_COMPOUND_CATEGORY = {
    "t-shirt": "apparel", "tank top": "apparel", "swim trunks": "apparel",
    "flip-flop": "shoes", "fanny pack": "bags", "card holder": "bags", "phone case": "electronics",
    "laptop stand": "electronics", "watch band": "electronics", "pillow cover": "home", "duvet cover": "home",
    "bed frame": "furniture", "coffee maker": "kitchen", "french press": "kitchen", "cutting board": "kitchen",
    "espresso machine": "kitchen", "dutch oven": "kitchen", "salad server": "kitchen", "wine glass": "kitchen",
    "teddy bear": "toys", "rubber duck": "toys", "board game": "toys", "action figure": "toys",
    "play kitchen": "toys", "hair dryer": "beauty", "hair straightener": "beauty", "flat iron": "beauty",
    "nail polish": "beauty", "lip balm": "beauty", "sheet mask": "beauty", "yoga mat": "sports",
    "resistance band": "sports", "trekking pole": "sports", "snorkel mask": "sports", "golf ball": "sports",
    "sleeping bag": "sports", "jump rope": "sports", "power bank": "electronics", "record player": "electronics",
    "gift card": "other", "cell phone": "electronics", "memory card": "electronics", "scale model": "toys",
    "model kit": "toys", "ring light": "electronics", "tea light": "home",
    "e-reader": "electronics", "television": "electronics", "jewellery": "jewellery", "perfume": "beauty",
}
NOUN_CATEGORY.update({noun: category for noun, category in _COMPOUND_CATEGORY.items() if noun not in NOUN_CATEGORY})
